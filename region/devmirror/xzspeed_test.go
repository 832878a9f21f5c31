package devmirror

import (
	"io"
	"os"
	"testing"
	"time"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

func TestXZSpeedTmp(t *testing.T) {
	data, _ := os.ReadFile("/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed")
	for _, c := range []xz.WriterConfig{{}, {Matcher: lzma.HashTable4}, {Matcher: lzma.BinaryTree}, {DictCap: 1 << 16}, {BufSize: 1 << 20}} {
		start := time.Now()
		cw := &countWriter{}
		w, err := c.NewWriter(cw)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
		t.Logf("%+v: %v -> %d", c, time.Since(start), cw.n)
	}
	_ = io.Discard
}
