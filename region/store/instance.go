package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// instanceName is the file in Dir holding the store's instance id.
const instanceName = ".region-instance"

// InstanceID returns the random id of this store, created on first use and
// kept in Dir/.region-instance. A region's installation is its store: the
// region registers under its name with this id, so its own restart (even
// right after a crash) takes the name back, while another region started
// by mistake with the same name, on another store, is refused.
func (d *Disk) InstanceID() (string, error) {
	p := filepath.Join(d.dir, instanceName)
	b, err := os.ReadFile(p)
	if err == nil {
		if id := strings.TrimSpace(string(b)); len(id) == 32 {
			return id, nil
		}
		d.log.Warn("instance id file is malformed; writing a new one", "path", p)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("store: read instance id: %w", err)
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("store: make instance id: %w", err)
	}
	id := hex.EncodeToString(raw[:])
	tmp, err := os.CreateTemp(filepath.Join(d.dir, tmpDir), "instance-*")
	if err != nil {
		return "", fmt.Errorf("store: write instance id: %w", err)
	}
	_, werr := tmp.WriteString(id + "\n")
	if werr == nil {
		werr = tmp.Chmod(0o644)
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), p)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("store: write instance id: %w", werr)
	}
	if err := syncDir(d.dir); err != nil {
		return "", fmt.Errorf("store: write instance id: %w", err)
	}
	return id, nil
}
