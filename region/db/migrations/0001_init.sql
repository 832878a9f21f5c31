-- bootfs region schema, version 1. Modeled on MAAS 3.5's boot resource
-- tables; names are bootfs's own. Applied by db.Migrate under an advisory lock.

CREATE TABLE boot_source (
    id        bigserial PRIMARY KEY,
    url       text NOT NULL UNIQUE,
    keyring   bytea,                       -- OpenPGP public keyring (binary or armored)
    unsigned  boolean NOT NULL DEFAULT false,
    created   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE boot_source_selection (
    id         bigserial PRIMARY KEY,
    source_id  bigint NOT NULL REFERENCES boot_source(id) ON DELETE CASCADE,
    os         text NOT NULL,
    release    text NOT NULL,
    arches     text[] NOT NULL DEFAULT '{*}',
    subarches  text[] NOT NULL DEFAULT '{*}',
    labels     text[] NOT NULL DEFAULT '{*}',
    UNIQUE (source_id, os, release)
);

-- One row per distinct content. filename_on_disk is MAAS 3.5's short hash
-- (7 hex characters, lengthened on collision) used in boot URLs.
CREATE TABLE blob (
    sha256           char(64) PRIMARY KEY,
    size             bigint NOT NULL CHECK (size >= 0),
    filename_on_disk text NOT NULL UNIQUE,
    block_size       integer,              -- NULL until first ingested
    block_digests    bytea,                -- concatenated sha256 of each block
    created          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE boot_resource (
    id               bigserial PRIMARY KEY,
    rtype            integer NOT NULL DEFAULT 0,   -- 0 synced, 2 uploaded (MAAS values)
    name             text NOT NULL,                -- e.g. ubuntu/jammy, grub-efi-signed/uefi
    architecture     text NOT NULL,                -- e.g. amd64/ga-22.04, amd64/generic
    kflavor          text,
    bootloader_type  text,
    extra            jsonb NOT NULL DEFAULT '{}',
    UNIQUE (name, architecture)
);

CREATE TABLE boot_resource_set (
    id           bigserial PRIMARY KEY,
    resource_id  bigint NOT NULL REFERENCES boot_resource(id) ON DELETE CASCADE,
    version      text NOT NULL,
    label        text NOT NULL,
    created      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (resource_id, version)
);

CREATE TABLE boot_resource_file (
    id          bigserial PRIMARY KEY,
    set_id      bigint NOT NULL REFERENCES boot_resource_set(id) ON DELETE CASCADE,
    filename    text NOT NULL,
    filetype    text NOT NULL,
    sha256      char(64) NOT NULL REFERENCES blob(sha256),
    size        bigint NOT NULL CHECK (size >= 0),
    source_url  text,                      -- where upstream serves it; NULL for extracted or migrated files
    extra       jsonb NOT NULL DEFAULT '{}',
    UNIQUE (set_id, filename)
);
CREATE INDEX boot_resource_file_sha256 ON boot_resource_file (sha256);

CREATE TABLE region (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    url             text NOT NULL,
    last_heartbeat  timestamptz NOT NULL DEFAULT now(),
    created         timestamptz NOT NULL DEFAULT now()
);

-- Bytes each region holds of each blob; size = blob.size means complete and verified.
CREATE TABLE blob_sync (
    sha256     char(64) NOT NULL REFERENCES blob(sha256) ON DELETE CASCADE,
    region_id  bigint NOT NULL REFERENCES region(id) ON DELETE CASCADE,
    size       bigint NOT NULL,
    updated    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sha256, region_id)
);
CREATE INDEX blob_sync_region ON blob_sync (region_id);

CREATE TABLE banner (
    region_id  bigint NOT NULL REFERENCES region(id) ON DELETE CASCADE,
    kind       text NOT NULL,
    message    text NOT NULL,
    since      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (region_id, kind)
);
