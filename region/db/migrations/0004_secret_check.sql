-- A fingerprint of the shared secret (an HMAC keyed with it, never the
-- secret itself). Every region compares its own at start, so a region
-- started with a different secret file (a fresh one, created because the
-- file was missing) is refused with a clear error instead of failing every
-- peer copy with 401.
CREATE TABLE secret_check (
	id          int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
	fingerprint text NOT NULL,
	set_by      text NOT NULL,
	set_at      timestamptz NOT NULL DEFAULT now()
);
