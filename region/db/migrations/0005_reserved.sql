-- Placeholder on branch h2 only: migration number 5 belongs to another
-- change being developed in parallel. Migrations must be numbered 1..n, so
-- this keeps 0006 loadable on this branch. Delete this file when merging
-- the real 0005.
SELECT 1;
