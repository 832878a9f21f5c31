package migrate

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/region/store"
)

// PlanFile is one distinct content in the legacy database.
type PlanFile struct {
	SHA256 digest.Digest
	Size   int64
	// Names are the resource files backed by it: "<resource> <arch>
	// <version> <filename>", sorted.
	Names []string
	// OnDisk: the store already holds it; it is skipped.
	OnDisk bool
	// Have is how many bytes MAAS holds (largefile.size); below Size the
	// content is incomplete and not exported.
	Have int64
	// OID is the large object it is read from.
	OID uint32
}

// Incomplete reports whether MAAS never finished downloading the content.
func (f PlanFile) Incomplete() bool { return f.Have < f.Size }

// Plan is the inventory of the legacy database and the space estimate.
type Plan struct {
	// Dir is the store directory.
	Dir string
	// Files lists the contents to export (OnDisk ones included), in name
	// order; Incomplete those that will not be.
	Files      []PlanFile
	Incomplete []PlanFile
	// Sets and FileRecords count what is recorded in the region database.
	Sets, FileRecords int
	// BytesNeeded is the total size of the Files not already on disk;
	// FreeBytes the space available in Dir.
	BytesNeeded int64
	FreeBytes   uint64
	// Orphans counts largefiles no resource file references (OrphanBytes
	// their total size): not exported, kept unless DiscardUnverified.
	Orphans     int
	OrphanBytes int64
	// WithoutContent counts resource files with no largefile (MAAS 3.5
	// rows whose content is not in the database): nothing to read.
	WithoutContent int
	// Unrecordable lists rows that cannot be recorded (malformed sha256,
	// or a size another file of the same sha256 contradicts).
	Unrecordable []Problem
}

// Fits reports whether the free space covers the bytes needed.
func (p *Plan) Fits() bool { return p.BytesNeeded <= 0 || uint64(p.BytesNeeded) <= p.FreeBytes }

// makePlan checks which contents the store already holds, and its space.
func makePlan(inv *inventory, st *store.Disk) (*Plan, error) {
	p := &Plan{
		Dir: st.Dir(), Sets: len(inv.sets), FileRecords: inv.files(),
		Orphans: inv.orphans, OrphanBytes: inv.orphanBytes, WithoutContent: inv.withoutContent,
		Unrecordable: inv.bad,
	}
	for _, c := range inv.contents {
		f := c.planFile()
		if f.Incomplete() {
			p.Incomplete = append(p.Incomplete, f)
			continue
		}
		var err error
		if f.OnDisk, err = onDisk(st, c.sha, c.size); err != nil {
			return nil, err
		}
		if !f.OnDisk {
			p.BytesNeeded += f.Size
		}
		p.Files = append(p.Files, f)
	}
	free, err := st.Free()
	if err != nil {
		return nil, err
	}
	p.FreeBytes = free
	return p, nil
}

// onDisk reports whether the store holds sha with the given size. A final
// name is given only to verified bytes, so the size check is enough.
func onDisk(st *store.Disk, sha digest.Digest, size int64) (bool, error) {
	n, err := st.Stat(sha)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return n == size, nil
}

// WriteTo prints the plan for a person: the estimate, then one line per
// content.
func (p *Plan) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	var onDisk int
	var total int64
	for _, f := range p.Files {
		total += f.Size
		if f.OnDisk {
			onDisk++
		}
	}
	fmt.Fprintf(&b, "legacy content: %d files in %d sets; %d distinct contents to export, %s\n",
		p.FileRecords, p.Sets, len(p.Files), HumanBytes(total))
	if onDisk > 0 {
		fmt.Fprintf(&b, "already on disk (skipped): %d\n", onDisk)
	}
	verdict := "fits"
	if !p.Fits() {
		verdict = fmt.Sprintf("DOES NOT FIT, %s missing", HumanBytes(p.BytesNeeded-int64(p.FreeBytes)))
	}
	fmt.Fprintf(&b, "space: %s (%d bytes) needed in %s, %s (%d bytes) available: %s\n",
		HumanBytes(p.BytesNeeded), p.BytesNeeded, p.Dir, HumanBytes(p.FreeBytes), p.FreeBytes, verdict)
	for _, f := range p.Files {
		state := "export"
		if f.OnDisk {
			state = "on disk"
		}
		writeFileLine(&b, f, state)
	}
	if len(p.Incomplete) > 0 {
		fmt.Fprintf(&b, "incomplete in the database, not exported (kept; to be fetched from upstream): %d\n", len(p.Incomplete))
		for _, f := range p.Incomplete {
			writeFileLine(&b, f, fmt.Sprintf("has %d of %d bytes", f.Have, f.Size))
		}
	}
	for _, pr := range p.Unrecordable {
		fmt.Fprintf(&b, "not recorded: %s: %s\n", strings.Join(pr.File.Names, ", "), pr.Reason)
	}
	if p.Orphans > 0 {
		fmt.Fprintf(&b, "largefiles no resource uses (not exported; kept unless --discard-unverified): %d, %s\n", p.Orphans, HumanBytes(p.OrphanBytes))
	}
	if p.WithoutContent > 0 {
		fmt.Fprintf(&b, "resource files without content in the database (ignored): %d\n", p.WithoutContent)
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func writeFileLine(b *strings.Builder, f PlanFile, state string) {
	fmt.Fprintf(b, "  %s %10s  %-8s %s\n", f.SHA256.Short(12), HumanBytes(f.Size), state, strings.Join(f.Names, ", "))
}
