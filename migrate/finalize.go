package migrate

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// finalize empties the legacy tables of content, in one transaction: the
// resource files stop pointing at largefiles (the NOT NULL constraint of a
// 3.4 schema is dropped first, as MAAS 3.5's own migration does), the
// largefile rows read by the inventory are deleted and their large
// objects unlinked. The caller runs it only once every content is settled.
// It returns the number of largefile rows and of large objects removed.
func finalize(ctx context.Context, conn *pgx.Conn, inv *inventory) (rows, objects int, err error) {
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if inv.shape.largefileNotNull {
			_, err := tx.Exec(ctx, `ALTER TABLE maasserver_bootresourcefile ALTER COLUMN largefile_id DROP NOT NULL`)
			if err != nil {
				return fmt.Errorf("make maasserver_bootresourcefile.largefile_id nullable: %w", err)
			}
		}
		_, err := tx.Exec(ctx, `
			UPDATE maasserver_bootresourcefile SET largefile_id = NULL, updated = now()
			WHERE largefile_id = ANY($1)`, inv.largefiles)
		if err != nil {
			return fmt.Errorf("detach resource files from their largefiles: %w", err)
		}
		err = tx.QueryRow(ctx, `
			WITH gone AS (DELETE FROM maasserver_largefile WHERE id = ANY($1) RETURNING content),
			     objs AS (SELECT DISTINCT content FROM gone)
			SELECT (SELECT count(*) FROM gone),
			       (SELECT count(lo_unlink(m.oid)) FROM objs JOIN pg_largeobject_metadata m ON m.oid = objs.content)`,
			inv.largefiles).Scan(&rows, &objects)
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
