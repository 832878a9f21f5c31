package simplestreams

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// MaxMetadataSize is the largest index or products document Load accepts.
// The biggest images.maas.io products file is a few MiB; anything near this
// limit is a broken or hostile server.
const MaxMetadataSize = 64 << 20

// maxMetadataSize is MaxMetadataSize, lowered by tests.
var maxMetadataSize int64 = MaxMetadataSize

// HTTPError is a non-2xx answer from the mirror.
type HTTPError struct {
	URL        string
	StatusCode int
	Status     string // e.g. "404 Not Found"
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("GET %s: HTTP status %s", e.URL, e.Status)
}

// fetchMetadata GETs url and returns its body, refusing non-2xx answers and
// bodies over maxMetadataSize.
func fetchMetadata(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The client's error already names the URL.
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &HTTPError{URL: url, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	if resp.ContentLength > maxMetadataSize {
		return nil, fmt.Errorf("GET %s: %w: %d bytes, more than the %d allowed", url, ErrFormat, resp.ContentLength, maxMetadataSize)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read body: %w", url, err)
	}
	if int64(len(body)) > maxMetadataSize {
		return nil, fmt.Errorf("GET %s: %w: more than the %d bytes allowed", url, ErrFormat, maxMetadataSize)
	}
	return body, nil
}
