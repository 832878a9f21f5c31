package migrate

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/bootfs/bootfs/internal/testpoll"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ulikunitz/xz"

	"github.com/bootfs/bootfs/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// legacy is a test MAAS database.
type legacy struct {
	t    testing.TB
	url  string
	pool *pgxpool.Pool
	v35  bool
}

func newLegacy(t testing.TB, v35 bool) *legacy {
	t.Helper()
	l := &legacy{t: t, url: pgtest.NewDatabase(t), v35: v35}
	var err error
	if l.pool, err = pgxpool.New(context.Background(), l.url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.pool.Close)
	l.exec(readFile(t, "testdata/maas34.sql"))
	if v35 {
		l.exec(readFile(t, "testdata/maas35.sql"))
	}
	return l
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (l *legacy) exec(sql string, args ...any) {
	l.t.Helper()
	if _, err := l.pool.Exec(context.Background(), sql, args...); err != nil {
		l.t.Fatalf("%s: %v", sql, err)
	}
}

func (l *legacy) int(sql string, args ...any) int64 {
	l.t.Helper()
	var n int64
	if err := l.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		l.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (l *legacy) resource(name, arch, kflavor, btype string) int64 {
	return l.int(`INSERT INTO maasserver_bootresource (rtype, name, architecture, kflavor, bootloader_type)
		VALUES (0, $1, $2, NULLIF($3, ''), NULLIF($4, '')) RETURNING id`, name, arch, kflavor, btype)
}

func (l *legacy) set(resource int64, version string) int64 {
	return l.int(`INSERT INTO maasserver_bootresourceset (resource_id, version, label) VALUES ($1, $2, 'stable') RETURNING id`,
		resource, version)
}

// largefile stores data as a large object under a largefile row claiming
// sha and total bytes, of which have were written.
func (l *legacy) largefile(sha string, total, have int64, data []byte) int64 {
	return l.int(`INSERT INTO maasserver_largefile (sha256, total_size, size, content)
		VALUES ($1, $2, $3, lo_from_bytea(0, $4)) RETURNING id`, sha, total, have, data)
}

// content stores data as a complete largefile and returns its id.
func (l *legacy) content(data []byte) int64 {
	return l.largefile(hexSHA(data), int64(len(data)), int64(len(data)), data)
}

// bigContent writes size pseudo-random bytes as a large object in 1 MiB
// writes (never holding it whole) and returns the largefile id and sha256.
func (l *legacy) bigContent(seed uint64, size int64) (int64, string) {
	l.t.Helper()
	ctx := context.Background()
	var id int64
	var sum string
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		los := tx.LargeObjects()
		oid, err := los.Create(ctx, 0)
		if err != nil {
			return err
		}
		lo, err := los.Open(ctx, oid, pgx.LargeObjectModeWrite)
		if err != nil {
			return err
		}
		h := sha256.New()
		src := newStream(seed)
		buf := make([]byte, 1<<20)
		for left := size; left > 0; left -= int64(len(buf)) {
			b := buf[:min(int64(len(buf)), left)]
			src.fill(b)
			h.Write(b)
			if _, err := lo.Write(b); err != nil {
				return err
			}
		}
		if err := lo.Close(); err != nil {
			return err
		}
		sum = hex.EncodeToString(h.Sum(nil))
		return tx.QueryRow(ctx, `INSERT INTO maasserver_largefile (sha256, total_size, size, content)
			VALUES ($1, $2, $2, $3) RETURNING id`, sum, size, oid).Scan(&id)
	})
	if err != nil {
		l.t.Fatalf("write a %d byte large object: %v", size, err)
	}
	return id, sum
}

// file adds a resource file of set backed by largefile lf. On a 3.5
// schema it also fills the file's own sha256 and size from the largefile
// (as MAAS 3.5's migration backfilled them).
func (l *legacy) file(set, lf int64, filename, filetype string) int64 {
	if l.v35 {
		return l.int(`INSERT INTO maasserver_bootresourcefile (resource_set_id, largefile_id, filename, filetype, extra, sha256, size)
			SELECT $1, $2, $3, $4, '{"kflavor": "generic"}', sha256, total_size FROM maasserver_largefile WHERE id = $2
			RETURNING id`, set, lf, filename, filetype)
	}
	return l.int(`INSERT INTO maasserver_bootresourcefile (resource_set_id, largefile_id, filename, filetype, extra)
		VALUES ($1, $2, $3, $4, '{"kflavor": "generic"}') RETURNING id`, set, lf, filename, filetype)
}

// counts returns the rows of largefile, of large objects and of resource
// files still pointing at a largefile.
func (l *legacy) counts() (largefiles, objects, attached int64) {
	return l.int(`SELECT count(*) FROM maasserver_largefile`),
		l.int(`SELECT count(*) FROM pg_largeobject_metadata`),
		l.int(`SELECT count(*) FROM maasserver_bootresourcefile WHERE largefile_id IS NOT NULL`)
}

// strings runs a query returning one text column.
func (l *legacy) strings(sql string, args ...any) []string {
	l.t.Helper()
	rows, err := l.pool.Query(context.Background(), sql, args...)
	if err != nil {
		l.t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		l.t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// stream is a fast deterministic byte source (ChaCha8).
type stream struct{ r *rand.ChaCha8 }

func newStream(seed uint64) *stream {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return &stream{r: rand.NewChaCha8(s)}
}

func (s *stream) fill(b []byte) { _, _ = s.r.Read(b) }

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	newStream(seed).fill(b)
	return b
}

// tarXZ builds a real archive.tar.xz holding the given members.
func tarXZ(t testing.TB, members map[string][]byte, order ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	xw, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(xw)
	for _, name := range order {
		data := members[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := xw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// eventually polls cond every 50ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testpoll.Until(t, timeout, what, cond)
}
