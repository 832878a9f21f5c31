-- Import history and the operator's stop.
--
-- import_run keeps each import and peer sync of each region: when it
-- started and ended, how it ended (running, done, failed, stopped), and the
-- bytes and files it fetched. A region keeps its newest 100 rows (older ones
-- are deleted as new runs start). A run still "running" when its region
-- starts again was cut short by the region stopping: it is recorded failed.
CREATE TABLE import_run (
    id        bigserial PRIMARY KEY,
    region_id bigint NOT NULL REFERENCES region(id) ON DELETE CASCADE,
    kind      text NOT NULL CHECK (kind IN ('import', 'sync')),
    started   timestamptz NOT NULL DEFAULT now(),
    finished  timestamptz,
    outcome   text NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'done', 'failed', 'stopped')),
    error     text NOT NULL DEFAULT '',
    bytes     bigint NOT NULL DEFAULT 0,
    files     integer NOT NULL DEFAULT 0
);
CREATE INDEX import_run_region ON import_run (region_id, id DESC);

-- import_stop holds at most one row: set by `bootfs-region import --stop`,
-- cleared by the next `bootfs-region import`. While it is set no region
-- imports or syncs by itself (a region starting up does not resume the
-- stopped import); partial downloads stay on disk for the next import.
CREATE TABLE import_stop (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    requested timestamptz NOT NULL DEFAULT now(),
    by_region text NOT NULL
);
