-- Upstream work division: a region that downloads a blob from upstream
-- holds a claim on it; the claim expires unless renewed, so when the
-- claimer dies another region takes the download over (and resumes it).
CREATE TABLE download_claim (
    sha256      char(64) PRIMARY KEY REFERENCES blob(sha256) ON DELETE CASCADE,
    region_id   bigint NOT NULL REFERENCES region(id) ON DELETE CASCADE,
    source      text NOT NULL,
    claimed     timestamptz NOT NULL DEFAULT now(),
    expires     timestamptz NOT NULL
);
CREATE INDEX download_claim_region ON download_claim (region_id);
