package migrate

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// removal splits the largefiles read by the inventory into those whose
// content the run verified on disk and the others, and says what the final
// step would delete.
func (inv *inventory) removal(discard bool) (verified, unverified []int64, rm Removal) {
	ok := map[int64]bool{}
	for _, c := range inv.contents {
		if c.verified {
			for _, id := range c.lfs {
				ok[id] = true
			}
		}
	}
	for _, id := range inv.largefiles {
		if ok[id] {
			verified = append(verified, id)
			rm.Verified++
			rm.VerifiedBytes += inv.totals[id]
		} else {
			unverified = append(unverified, id)
			rm.Unverified++
			rm.UnverifiedBytes += inv.totals[id]
		}
	}
	rm.Discard = discard
	return verified, unverified, rm
}

// finalize deletes the largefile rows ids from the legacy database, in one
// transaction: the resource files stop pointing at them (the NOT NULL
// constraint of a 3.4 schema is dropped first, as MAAS 3.5's own migration
// does), the rows are deleted and their large objects unlinked, unless a
// largefile that stays still uses the object. The caller passes only
// largefiles whose content it verified on disk, unless told to discard the
// others. It returns the number of largefile rows and of large objects
// removed.
func finalize(ctx context.Context, conn *pgx.Conn, inv *inventory, ids []int64) (rows, objects int, err error) {
	if len(ids) == 0 {
		return 0, 0, nil
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if inv.shape.largefileNotNull {
			_, err := tx.Exec(ctx, `ALTER TABLE maasserver_bootresourcefile ALTER COLUMN largefile_id DROP NOT NULL`)
			if err != nil {
				return fmt.Errorf("make maasserver_bootresourcefile.largefile_id nullable: %w", err)
			}
		}
		_, err := tx.Exec(ctx, `
			UPDATE maasserver_bootresourcefile SET largefile_id = NULL, updated = now()
			WHERE largefile_id = ANY($1)`, ids)
		if err != nil {
			return fmt.Errorf("detach resource files from their largefiles: %w", err)
		}
		// Every part of one statement sees the same snapshot: the rows
		// deleted are still visible to the NOT EXISTS, hence the id test.
		err = tx.QueryRow(ctx, `
			WITH gone AS (DELETE FROM maasserver_largefile WHERE id = ANY($1) RETURNING content),
			     objs AS (SELECT DISTINCT content FROM gone g
			              WHERE NOT EXISTS (SELECT 1 FROM maasserver_largefile l
			                                WHERE l.content = g.content AND l.id <> ALL($1)))
			SELECT (SELECT count(*) FROM gone),
			       (SELECT count(lo_unlink(m.oid)) FROM objs JOIN pg_largeobject_metadata m ON m.oid = objs.content)`,
			ids).Scan(&rows, &objects)
		if err != nil {
			return fmt.Errorf("delete largefiles and unlink their large objects: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return rows, objects, nil
}
