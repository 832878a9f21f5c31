-- Uploads of custom images (`bootfs-region images upload`) under way or
-- done. The bytes of an upload under way live in the receiving region's
-- store as a partial file (Dir/.partial/<sha256>), so the same command
-- resumes there after a killed client or region; this row keeps what the
-- client declared. Once the bytes are verified the upload records an
-- uploaded resource (boot_resource.rtype 2, set label "uploaded") and the
-- row gets done, resource and version. Nothing here is in the boot tree.
CREATE TABLE boot_upload (
    id            text PRIMARY KEY,
    region_id     bigint NOT NULL REFERENCES region(id) ON DELETE CASCADE,
    name          text NOT NULL,           -- os/release, e.g. custom/myimage
    architecture  text NOT NULL,           -- arch/subarch
    filetype      text NOT NULL,           -- the CLI's name: tgz, ddraw, ...
    title         text NOT NULL DEFAULT '',
    base_image    text NOT NULL DEFAULT '',
    sha256        char(64) NOT NULL,
    size          bigint NOT NULL CHECK (size > 0),
    created       timestamptz NOT NULL DEFAULT now(),
    done          timestamptz,
    version       text
);
CREATE INDEX boot_upload_lookup ON boot_upload (region_id, name, architecture, sha256);
