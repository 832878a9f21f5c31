-- Turns the tables of maas34.sql into MAAS 3.5's shape: resource files
-- carry their own sha256 and size, largefile_id is nullable.
ALTER TABLE maasserver_bootresourcefile
    ADD COLUMN sha256 varchar(64),
    ADD COLUMN size bigint,
    ADD COLUMN filename_on_disk varchar(64),
    ALTER COLUMN largefile_id DROP NOT NULL;
CREATE TABLE maasserver_bootresourcefilesync (
    id bigserial PRIMARY KEY,
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now(),
    size bigint NOT NULL,
    file_id bigint NOT NULL REFERENCES maasserver_bootresourcefile(id) DEFERRABLE INITIALLY DEFERRED,
    region_id bigint NOT NULL,
    UNIQUE (file_id, region_id)
);
