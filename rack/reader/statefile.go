package reader

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bootfs/bootfs/internal/digest"
)

// ErrDamaged is returned (wrapped, naming the file) by LoadState for a
// state file that is torn, edited or rotten: its trailer does not match.
var ErrDamaged = errors.New("damaged state file")

// stateTrailer starts the last line of a state file: the sha256 of
// everything before it.
const stateTrailer = "sha256 "

// SaveState writes v as JSON to path atomically: a temporary file in the
// same directory (created if missing), the JSON followed by a trailer line
// with its sha256, fsync, rename over path, fsync of the directory. A crash
// leaves either the old file or the new one, never a mix; LoadState detects
// anything else.
func SaveState(path string, v any) (err error) {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	sum := digest.Of(body)
	body = append(body, '\n')
	body = append(body, stateTrailer+sum.String()+"\n"...)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(body); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// LoadState reads a file written by SaveState into v. A missing file is
// returned as is (errors.Is fs.ErrNotExist); a file whose trailer does not
// match its contents, or that does not decode, wraps ErrDamaged. maxBytes
// bounds what is read.
func LoadState(path string, v any, maxBytes int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() > maxBytes {
		return fmt.Errorf("%w: %s: %d bytes, more than %d", ErrDamaged, path, fi.Size(), maxBytes)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	body, tail, ok := cutTrailer(b)
	if !ok {
		return fmt.Errorf("%w: %s: no checksum trailer (torn write?)", ErrDamaged, path)
	}
	want, err := hex.DecodeString(tail)
	if err != nil || len(want) != digest.Size {
		return fmt.Errorf("%w: %s: bad checksum trailer", ErrDamaged, path)
	}
	if got := digest.Of(body); !bytes.Equal(got[:], want) {
		return fmt.Errorf("%w: %s: contents do not match their checksum", ErrDamaged, path)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrDamaged, path, err)
	}
	return nil
}

// cutTrailer splits "body\nsha256 HEX\n" into body and HEX.
func cutTrailer(b []byte) (body []byte, sum string, ok bool) {
	b, ok = bytes.CutSuffix(b, []byte("\n"))
	if !ok {
		return nil, "", false
	}
	i := bytes.LastIndexByte(b, '\n')
	if i < 0 {
		return nil, "", false
	}
	s, ok := bytes.CutPrefix(b[i+1:], []byte(stateTrailer))
	return b[:i], string(s), ok
}
