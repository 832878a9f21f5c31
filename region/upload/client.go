package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/bootfs/bootfs/internal/wire"
)

// DefaultChunk is the size of the client's PUTs.
const DefaultChunk = 8 << 20

// Client sends one file to a region: the client side of the protocol,
// used by `bootfs-region images upload`.
type Client struct {
	Base   string       // the region's URL, e.g. http://localhost:5240
	Secret string       // the shared secret
	HTTP   *http.Client // nil: a client without overall timeout
	// Chunk is the size of each PUT (default DefaultChunk, at most MaxChunk).
	Chunk int64
	// Progress, if set, is called with the region's byte count after the
	// first answer and after every chunk.
	Progress func(received, size int64)
}

// Result is what Send did.
type Result struct {
	wire.Upload
	// Sent is how many bytes of the file this run sent; Resumed is how
	// many the region had before it (from an interrupted run).
	Sent, Resumed int64
}

// Send declares the upload (start.SHA256 and start.Size must describe
// file) and sends the bytes the region lacks, in chunks, until the region
// has verified and recorded them. An error after some bytes arrived leaves
// them on the region: the same call resumes there.
func (c *Client) Send(ctx context.Context, start wire.UploadStart, file io.ReaderAt) (Result, error) {
	var res Result
	chunk := c.Chunk
	if chunk <= 0 {
		chunk = DefaultChunk
	}
	chunk = min(chunk, MaxChunk)
	var u wire.Upload
	if err := c.call(ctx, http.MethodPost, wire.PathUploads, "application/json", jsonBody(start), &u); err != nil {
		return res, err
	}
	res.Resumed = u.Received
	for {
		res.Upload = u
		if c.Progress != nil {
			c.Progress(u.Received, u.Size)
		}
		if u.Done {
			return res, nil
		}
		if u.Received >= u.Size {
			return res, fmt.Errorf("region %s has all %d bytes of upload %s but did not record it; run the same command again", c.Base, u.Size, u.ID)
		}
		off := u.Received
		n := min(chunk, u.Size-off)
		body := &countReader{r: io.NewSectionReader(file, off, n)}
		path := wire.PathUploads + "/" + u.ID + "?offset=" + strconv.FormatInt(off, 10)
		var next wire.Upload
		err := c.call(ctx, http.MethodPut, path, "application/octet-stream", body, &next)
		res.Sent += body.n
		var conflict *offsetError
		switch {
		case errors.As(err, &conflict):
			next = conflict.u // the region has another count: go on from there
		case err != nil:
			return res, fmt.Errorf("upload interrupted with %d of %d bytes on the region: %w; run the same command again to resume",
				u.Received, u.Size, err)
		}
		u = next
	}
}

// offsetError is a 409 answer to a PUT: the region's state.
type offsetError struct{ u wire.Upload }

func (e *offsetError) Error() string { return "offset conflict" }

func (c *Client) call(ctx context.Context, method, path, ctype string, body io.Reader, out *wire.Upload) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Base, "/")+path, body)
	if err != nil {
		return err
	}
	if cr, ok := body.(*countReader); ok {
		req.ContentLength = cr.r.(*io.SectionReader).Size()
	}
	req.Header.Set("Authorization", "Bearer "+c.Secret)
	req.Header.Set("Content-Type", ctype)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("reach region %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusConflict && method == http.MethodPut &&
		strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var u wire.Upload
		if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
			return fmt.Errorf("%s %s: %s: %w", method, path, resp.Status, err)
		}
		return &offsetError{u: u}
	}
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("region %s refused: %s: %s", c.Base, resp.Status, strings.TrimSpace(string(msg)))
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v) // wire types always marshal
	return bytes.NewReader(b)
}

// countReader counts the bytes read through it (the bytes sent).
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
