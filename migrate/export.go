package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/region/store"
)

// errCorruptSource marks an object that cannot be the content it claims to
// be (its large object is missing); like store.ErrCorrupt, it is reported
// and the migration goes on.
var errCorruptSource = errors.New("large object unreadable")

// exported is the result of streaming one object.
type exported struct {
	blocks  []digest.Digest
	written int64 // bytes this call wrote
	resumed int64 // bytes already in a partial file
}

// export streams c's large object into the store, resuming a partial file
// left by an earlier run. The read runs in its own read-only transaction
// on conn. Bytes that do not hash to c.sha give an error wrapping
// store.ErrCorrupt, and nothing is stored under that name.
func export(ctx context.Context, conn *pgx.Conn, st *store.Disk, c *content, chunk int, onBytes func(int64)) (ex exported, err error) {
	p, err := st.Begin(c.sha, c.size)
	if err != nil {
		return ex, err
	}
	finished := false
	defer func() {
		if !finished {
			// Keep the partial for the next run; a corrupt result already
			// ended the Pending and removed it.
			err = errors.Join(err, p.Abort())
		}
	}()
	ex.resumed = p.Offset()
	onBytes(ex.resumed)

	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return ex, fmt.Errorf("begin read of large object %d: %w", c.src.oid, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // read-only: nothing to commit
	los := tx.LargeObjects()
	lo, err := los.Open(ctx, c.src.oid, pgx.LargeObjectModeRead)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42704" { // undefined_object
			finished = true
			return ex, errors.Join(fmt.Errorf("%w: large object %d does not exist", errCorruptSource, c.src.oid), p.Discard())
		}
		return ex, fmt.Errorf("open large object %d: %w", c.src.oid, err)
	}
	if ex.resumed > 0 {
		if _, err := lo.Seek(ex.resumed, io.SeekStart); err != nil {
			return ex, fmt.Errorf("seek large object %d to %d: %w", c.src.oid, ex.resumed, err)
		}
	}
	ex.written, err = pump(lo, p, chunk, onBytes)
	if err != nil {
		if errors.Is(err, store.ErrCorrupt) || errors.Is(err, store.ErrNoSpace) {
			finished = true // the store ended the Pending and removed the partial
		}
		return ex, err
	}
	finished = true
	ex.blocks, err = p.Commit()
	return ex, err
}

// pump copies r (a large object) to w until r's EOF, with up to inFlight
// chunks read ahead: the database sends the next chunks while w hashes and
// writes the current one. Reads happen on one goroutine, writes on the
// caller's; pump returns only once the reader has stopped, so the
// connection under r is free again. onBytes is called after each write.
func pump(r io.Reader, w io.Writer, chunk int, onBytes func(int64)) (int64, error) {
	type piece struct {
		buf []byte
		n   int
		err error // io.EOF at the end
	}
	free := make(chan []byte, inFlight+1)
	for range inFlight + 1 {
		free <- make([]byte, chunk)
	}
	full := make(chan piece, inFlight)
	stop := make(chan struct{})
	go func() {
		defer close(full)
		for {
			var buf []byte
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			n, err := r.Read(buf)
			full <- piece{buf: buf, n: n, err: err}
			if err != nil {
				return
			}
		}
	}()
	var written int64
	var werr error
	for pc := range full {
		if werr == nil && pc.n > 0 {
			_, werr = w.Write(pc.buf[:pc.n])
			if werr == nil {
				written += int64(pc.n)
				onBytes(int64(pc.n))
			} else {
				close(stop)
			}
		}
		if werr == nil && pc.err != nil && pc.err != io.EOF {
			werr = fmt.Errorf("read large object: %w", pc.err)
		}
		free <- pc.buf
	}
	return written, werr
}
