-- Where a set came from, and whether a source still wants it.
--
-- source is the URL of the boot source that recorded the set (NULL for
-- sets of unknown origin, such as those migrated out of a MAAS database:
-- they are never retired). retired is when the set stopped being picked by
-- any selection of its source (the source was removed, or its selections
-- changed): a retired set leaves the boot tree at once, nothing fetches its
-- files any more, and it is deleted --cleanup-grace later, with the files no
-- other set uses, on every region. An import that records the set again
-- clears retired.
ALTER TABLE boot_resource_set ADD COLUMN source text, ADD COLUMN retired timestamptz;

-- Existing sets: the source whose URL prefixes their files' upstream URLs
-- (the longest such); a set with upstream files but no such source came
-- from a source removed earlier and keeps a file's URL, which matches no
-- source, so it is retired by the next cleanup.
UPDATE boot_resource_set s SET source = coalesce(
    (SELECT b.url FROM boot_resource_file f JOIN boot_source b
        ON starts_with(f.source_url, rtrim(b.url, '/') || '/')
     WHERE f.set_id = s.id ORDER BY length(b.url) DESC LIMIT 1),
    (SELECT f.source_url FROM boot_resource_file f
     WHERE f.set_id = s.id AND f.source_url IS NOT NULL ORDER BY f.filename LIMIT 1));
