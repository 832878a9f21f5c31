-- Who holds a region name, and which build it runs.
--   version:  internal/version.String() of the running region; status warns
--             when live regions run different versions.
--   instance: a random id kept in the region's store directory. A region
--             may take over a name whose row has its own instance (its own
--             restart, even right after a crash), is stopped, or has not
--             heartbeated for the alive window; otherwise the name is held
--             by another live region and the start is refused.
--   stopped:  set when the region stopped cleanly (it then also moves
--             last_heartbeat back, so every region sees it down at once);
--             NULL while it runs.
ALTER TABLE region ADD COLUMN version text NOT NULL DEFAULT '';
ALTER TABLE region ADD COLUMN instance text NOT NULL DEFAULT '';
ALTER TABLE region ADD COLUMN stopped timestamptz;
