package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/damage"
	"github.com/bootfs/bootfs/internal/digest"
)

func TestVerifierQuarantinesFlippedByte(t *testing.T) {
	d, _ := newDisk(t)
	goodData, good := put(t, d, 40, digest.BlockSize+10)
	_, bad := put(t, d, 41, 2*digest.BlockSize)
	if err := d.LinkBootloader("uefi/amd64/grubx64.efi", bad); err != nil {
		t.Fatal(err)
	}
	if err := d.LinkBootloader("uefi/amd64/bootx64.efi", good); err != nil {
		t.Fatal(err)
	}
	// Flip one byte of the stored file, in place, as bit rot would.
	damage.FlipByte(t, d.Path(bad), 12345)

	_, missing := blob(42, 10) // listed but gone: skipped
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	corrupt := make(chan digest.Digest, 10)
	done := make(chan error, 1)
	go func() {
		done <- d.RunVerifier(ctx, VerifierOptions{
			BytesPerSec: 1 << 30,
			Interval:    time.Hour,
			List: func(context.Context) ([]digest.Digest, error) {
				return []digest.Digest{missing, good, bad}, nil
			},
			OnCorrupt: func(dg digest.Digest) { corrupt <- dg },
		})
	}()
	select {
	case dg := <-corrupt:
		if dg != bad {
			t.Fatalf("OnCorrupt(%s), want %s", dg.Short(8), bad.Short(8))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("OnCorrupt not called")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunVerifier = %v, want nil on cancel", err)
	}
	if len(corrupt) != 0 {
		t.Fatalf("OnCorrupt called for more: %s", (<-corrupt).Short(8))
	}
	if _, err := d.Open(bad); !errors.Is(err, ErrNotFound) {
		t.Fatalf("corrupt blob still served: %v", err)
	}
	if names := dirNames(t, filepath.Join(d.Dir(), quarantineDir)); len(names) != 1 {
		t.Fatalf("quarantine holds %v", names)
	}
	if _, err := os.Lstat(filepath.Join(d.Dir(), bootloaderDir, "uefi/amd64/grubx64.efi")); !os.IsNotExist(err) {
		t.Fatalf("bootloader link of the corrupt blob kept: %v", err)
	}
	assertStored(t, d, good, goodData)
	if _, err := os.Stat(filepath.Join(d.Dir(), bootloaderDir, "uefi/amd64/bootx64.efi")); err != nil {
		t.Fatalf("good bootloader removed: %v", err)
	}
}

func TestVerifierListError(t *testing.T) {
	d, _ := newDisk(t)
	if err := d.RunVerifier(context.Background(), VerifierOptions{}); err == nil {
		t.Fatal("RunVerifier without List succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := d.RunVerifier(ctx, VerifierOptions{
		Interval: time.Millisecond,
		List: func(context.Context) ([]digest.Digest, error) {
			calls++
			if calls == 3 {
				cancel()
			}
			return nil, errors.New("database down")
		},
	})
	if err != nil || calls != 3 {
		t.Fatalf("RunVerifier = %v after %d List calls, want nil after 3", err, calls)
	}
}
