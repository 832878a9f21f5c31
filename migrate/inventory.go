package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/region/db"
)

// largefile is one maasserver_largefile row.
type largefile struct {
	id    int64
	oid   uint32
	total int64 // total_size: the expected size
	have  int64 // size: the bytes MAAS wrote
}

func (l *largefile) complete() bool { return l.have >= l.total }

// content is one distinct sha256 to export, with the largefile it is read
// from (a complete one when several largefiles claim it).
type content struct {
	sha   digest.Digest
	size  int64
	src   *largefile
	names []string
	// lfs are the largefiles whose rows claim this content (c.src among
	// them); verified is set once the content is on disk and recorded as
	// held: only then may the final step delete them.
	lfs      []int64
	verified bool
}

func (c *content) planFile() PlanFile {
	names := slices.Clone(c.names)
	slices.Sort(names)
	return PlanFile{SHA256: c.sha, Size: c.size, Names: slices.Compact(names), Have: c.src.have, OID: c.src.oid}
}

// inventory is what the legacy database holds.
type inventory struct {
	shape    shape
	sets     []db.SetRecord
	contents []*content // sorted by first name
	// largefiles lists every largefile row read, orphans included, and
	// totals their total_size: the rows the final transaction may delete.
	largefiles []int64
	totals     map[int64]int64
	// orphans are largefiles no resource file references.
	orphans     int
	orphanBytes int64
	// withoutContent counts 3.5 file rows with no largefile (exported by
	// MAAS itself, or never downloaded): nothing to read for them.
	withoutContent int
	// bad lists rows that cannot be recorded (a malformed sha256, a size
	// that disagrees with another file of the same sha256).
	bad []Problem
}

// row is one resource file joined with its set, resource and largefile.
type row struct {
	setID                      int64
	rtype                      int
	name, arch, kflavor, btype string
	version, label             string
	filename, filetype         string
	extra                      map[string]any
	lf                         largefile
	claimedSHA                 string
	claimedSize                int64
}

func (r *row) title() string {
	return r.name + " " + r.arch + " " + r.version + " " + r.filename
}

// readInventory reads the legacy tables in one read-only snapshot.
func readInventory(ctx context.Context, conn *pgx.Conn, s shape) (*inventory, error) {
	inv := &inventory{shape: s, totals: map[int64]int64{}}
	err := pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			if err := inv.readFiles(ctx, tx); err != nil {
				return err
			}
			return inv.readOthers(ctx, tx)
		})
	if err != nil {
		return nil, fmt.Errorf("read the MAAS boot resource tables: %w", err)
	}
	return inv, nil
}

func (inv *inventory) readFiles(ctx context.Context, tx pgx.Tx) error {
	claimed := `l.sha256, l.total_size`
	if inv.shape.fileHasSHA {
		claimed = `coalesce(f.sha256, l.sha256), coalesce(f.size, l.total_size)`
	}
	rows, err := tx.Query(ctx, `
		SELECT s.id, r.rtype, r.name, r.architecture, coalesce(r.kflavor, ''), coalesce(r.bootloader_type, ''),
		       s.version, s.label, f.filename, f.filetype, coalesce(f.extra, '{}'::jsonb),
		       l.id, l.content, l.total_size, l.size, `+claimed+`
		FROM maasserver_bootresourcefile f
		JOIN maasserver_bootresourceset s ON s.id = f.resource_set_id
		JOIN maasserver_bootresource r ON r.id = s.resource_id
		JOIN maasserver_largefile l ON l.id = f.largefile_id
		ORDER BY r.name, r.architecture, s.version, f.filename, f.id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	bySHA := map[digest.Digest]*content{}
	setIdx := map[int64]int{}
	for rows.Next() {
		var r row
		err := rows.Scan(&r.setID, &r.rtype, &r.name, &r.arch, &r.kflavor, &r.btype,
			&r.version, &r.label, &r.filename, &r.filetype, &r.extra,
			&r.lf.id, &r.lf.oid, &r.lf.total, &r.lf.have, &r.claimedSHA, &r.claimedSize)
		if err != nil {
			return err
		}
		inv.add(&r, bySHA, setIdx)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	slices.SortFunc(inv.contents, func(a, b *content) int { return strings.Compare(a.names[0], b.names[0]) })
	return nil
}

// add files one row under its content and its set.
func (inv *inventory) add(r *row, bySHA map[digest.Digest]*content, setIdx map[int64]int) {
	lf := r.lf
	sha, err := digest.Parse(strings.TrimSpace(r.claimedSHA))
	if err == nil && r.claimedSize < 0 { // the region's schema refuses it: one bad row must not fail the rest (FuzzInventoryRows)
		err = fmt.Errorf("negative size %d", r.claimedSize)
	}
	if err != nil {
		inv.bad = append(inv.bad, Problem{
			File: PlanFile{Size: r.claimedSize, Names: []string{r.title()}, Have: lf.have, OID: lf.oid},
			Kind: "corrupt", Reason: fmt.Sprintf("largefile %d: %v", lf.id, err),
		})
		return
	}
	c := bySHA[sha]
	switch {
	case c == nil:
		c = &content{sha: sha, size: r.claimedSize, src: &lf}
		bySHA[sha] = c
		inv.contents = append(inv.contents, c)
	case c.size != r.claimedSize:
		inv.bad = append(inv.bad, Problem{
			File: PlanFile{SHA256: sha, Size: r.claimedSize, Names: []string{r.title()}, Have: lf.have, OID: lf.oid},
			Kind: "corrupt",
			Reason: fmt.Sprintf("size %d disagrees with %s, which claims the same sha256 with size %d",
				r.claimedSize, c.names[0], c.size),
		})
		return
	case !c.src.complete() && lf.complete():
		c.src = &lf
	}
	c.names = append(c.names, r.title())
	if !slices.Contains(c.lfs, lf.id) {
		c.lfs = append(c.lfs, lf.id)
	}

	i, ok := setIdx[r.setID]
	if !ok {
		i = len(inv.sets)
		setIdx[r.setID] = i
		inv.sets = append(inv.sets, db.SetRecord{
			Name: r.name, Architecture: r.arch, Kflavor: r.kflavor, BootloaderType: r.btype,
			RType: r.rtype, Version: r.version, Label: r.label,
		})
	}
	inv.sets[i].Files = append(inv.sets[i].Files, db.FileRecord{
		Filename: r.filename, Filetype: r.filetype, SHA256: sha, Size: r.claimedSize, Extra: r.extra,
	})
}

// readOthers lists every largefile row and counts orphans and 3.5 files
// without content.
func (inv *inventory) readOthers(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `
		SELECT l.id, l.total_size,
		       NOT EXISTS (SELECT 1 FROM maasserver_bootresourcefile f WHERE f.largefile_id = l.id)
		FROM maasserver_largefile l ORDER BY l.id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, total int64
		var orphan bool
		if err := rows.Scan(&id, &total, &orphan); err != nil {
			return err
		}
		inv.largefiles = append(inv.largefiles, id)
		inv.totals[id] = total
		if orphan {
			inv.orphans++
			inv.orphanBytes += total
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tx.QueryRow(ctx, `SELECT count(*) FROM maasserver_bootresourcefile WHERE largefile_id IS NULL`).
		Scan(&inv.withoutContent)
}

// empty reports whether there is no legacy content at all.
func (inv *inventory) empty() bool { return len(inv.largefiles) == 0 }

// files counts the file records.
func (inv *inventory) files() int {
	n := 0
	for _, s := range inv.sets {
		n += len(s.Files)
	}
	return n
}
