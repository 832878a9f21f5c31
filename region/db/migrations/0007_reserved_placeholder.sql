-- Placeholder for migration 0007, which another branch of this release
-- adds. MERGE NOTE: delete this file when the real 0007_*.sql arrives
-- (migrations must be numbered 1..n without gaps; this keeps 0009 loadable
-- on its own branch).
SELECT 1;
