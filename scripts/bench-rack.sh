#!/bin/bash
# Rack benchmarks: runs test/e2e's TestBench (built with -tags bench) (real region, real bootfs
# mounts, tftpd-hpa, curl) and prints a markdown table of measured ratios,
# each against its baseline, measured side by side in the same run.
#
# Needs root (FUSE, tftpd-hpa), about 14 GB free under $TMPDIR (default
# /tmp) and a few minutes. PostgreSQL: $BOOTFS_TEST_DATABASE_URL, or a
# private server started by the test (scripts/with-postgres.sh provides one).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "bench-rack: run as root (FUSE mounts, tftpd-hpa)" >&2
	exit 1
fi
BOOTFS_BENCH=1 go test -count=1 -run '^TestPolicyTrace$' -timeout 30m -v ./rack/cache/ | grep -E 'byte hit ratio|chosen/optimal'
go test -tags bench -count=1 -run '^TestBench$' -timeout 60m -v ./test/e2e/ 2>&1 |
	grep -v -E 'regiontest.go:[0-9]+: time=' 
# Rack CPU per cold GiB with BLAKE3 block digests against SHA-256 ones and
# against curl | openssl dgst -sha256 (issue #15).
go test -tags bench -count=1 -run '^TestBenchBlockDigestCPU$' -timeout 30m -v ./test/e2e/ 2>&1 |
	grep -E '^\|| core-s/GiB|^rack CPU|FAIL|^ok'
