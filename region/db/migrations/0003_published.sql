-- When a set was first complete on every region and so entered the boot
-- tree. A published set stays offered (a region that joins or loses a file
-- does not withdraw it); only a newer set replaces it, once that set is
-- complete everywhere. Older sets are deleted a grace period after their
-- replacement was published.
ALTER TABLE boot_resource_set ADD COLUMN published timestamptz;
