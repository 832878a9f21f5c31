-- MAAS 3.4's boot resource tables as far as the migration reads them,
-- written from the reference facts (ids bigint, created/updated NOT NULL,
-- deferrable foreign keys without ON DELETE CASCADE). Used by the tests
-- and by scripts/bench-migrate.sh.
CREATE TABLE maasserver_largefile (
    id bigserial PRIMARY KEY,
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now(),
    sha256 varchar(64) NOT NULL UNIQUE,
    total_size bigint NOT NULL,
    size bigint NOT NULL,
    content oid NOT NULL
);
CREATE TABLE maasserver_bootresource (
    id bigserial PRIMARY KEY,
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now(),
    rtype integer NOT NULL,
    name varchar(255) NOT NULL,
    architecture varchar(255) NOT NULL,
    extra jsonb NOT NULL DEFAULT '{}',
    kflavor varchar(32),
    bootloader_type varchar(32),
    rolling boolean NOT NULL DEFAULT false,
    base_image varchar(255) NOT NULL DEFAULT '',
    UNIQUE (name, architecture)
);
CREATE TABLE maasserver_bootresourceset (
    id bigserial PRIMARY KEY,
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now(),
    version varchar(255) NOT NULL,
    label varchar(255) NOT NULL,
    resource_id bigint NOT NULL REFERENCES maasserver_bootresource(id) DEFERRABLE INITIALLY DEFERRED,
    UNIQUE (resource_id, version)
);
CREATE TABLE maasserver_bootresourcefile (
    id bigserial PRIMARY KEY,
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now(),
    filename varchar(255) NOT NULL,
    filetype varchar(20) NOT NULL,
    extra jsonb NOT NULL DEFAULT '{}',
    largefile_id bigint NOT NULL REFERENCES maasserver_largefile(id) DEFERRABLE INITIALLY DEFERRED,
    resource_set_id bigint NOT NULL REFERENCES maasserver_bootresourceset(id) DEFERRABLE INITIALLY DEFERRED,
    UNIQUE (resource_set_id, filename)
);
