#!/bin/bash
# Rack benchmarks: runs test/e2e's TestBench (built with -tags bench) (real region, real bootfs
# mounts, tftpd-hpa, curl) and prints a markdown table of measured ratios,
# each against its baseline, measured side by side in the same run.
#
# Needs root (FUSE, tftpd-hpa), about 14 GB free under $TMPDIR (default
# /tmp) and a few minutes. PostgreSQL: $BOOTFS_TEST_DATABASE_URL, or a
# private server started by the test (scripts/with-postgres.sh provides one).
#
# BOOTFS_BENCH=cold,cpu,link,readers,tftp,rss picks benchmarks (default all).
# BOOTFS_BENCH_BASELINE_BIN=/path/to/bootfs (a binary named bootfs, e.g.
# built from main in a directory of its own) runs each benchmark for it and
# for this tree alternately, BOOTFS_BENCH_ROUNDS times, rows labelled
# [baseline] and [this]. BOOTFS_BENCH_PROFILES=DIR saves CPU profiles of
# bootfs during a cold read and the 100 readers there (go tool pprof);
# BOOTFS_BENCH_PERF=DIR saves `perf record -g` data of bootfs during the
# cold CPU runs and of the whole system during the 100 readers and their
# page-cache floor (perf report -i DIR/NAME.data).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "bench-rack: run as root (FUSE mounts, tftpd-hpa)" >&2
	exit 1
fi
BOOTFS_BENCH=1 go test -count=1 -run '^TestPolicyTrace$' -timeout 30m -v ./rack/cache/ | grep -E 'byte hit ratio|chosen/optimal|FAIL'
go test -tags bench -count=1 -run '^TestBench$' -timeout 60m -v ./test/e2e/ 2>&1 |
	grep -v -E 'regiontest.go:[0-9]+: time=' 
# Rack CPU per cold GiB with BLAKE3 block digests against SHA-256 ones and
# against curl | openssl dgst -sha256 (issue #15).
go test -tags bench -count=1 -run '^TestBenchBlockDigestCPU$' -timeout 30m -v ./test/e2e/ 2>&1 |
	grep -E '^\|| core-s/GiB|^rack CPU|FAIL|^ok'
