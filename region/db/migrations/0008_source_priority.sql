-- Priority of a boot source: when two sources carry the same product
-- (resource name and architecture), the one with the higher priority
-- wins, whatever the versions; ties go to the newer version, then to the
-- source added first (lower id).
ALTER TABLE boot_source ADD COLUMN priority integer NOT NULL DEFAULT 0;
