#!/usr/bin/env bash
# Migration benchmarks, measured side by side in one run against one
# throwaway PostgreSQL (scripts/with-postgres.sh):
#   1. export throughput: `bootfs-region migrate` / psql's \lo_export of the
#      same large objects to the same disk (page cache dropped before each,
#      both ending with the data on disk: psql's files are synced)
#   2. peak RSS of `bootfs-region migrate` (/usr/bin/time -v) in that same
#      run, which exports a 2 GiB object
# BENCH_MIGRATE_BIG_MIB (default 2048) sets the big object, BENCH_MIGRATE_SMALL
# (default 4) the number of 128 MiB objects beside it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -z ${BOOTFS_TEST_DATABASE_URL:-} ]]; then
	exec scripts/with-postgres.sh bash "$0" "$@"
fi
ROOT=$PWD
B=${BENCH_DIR:-/tmp/bootfs-bench-migrate}
BIG_MIB=${BENCH_MIGRATE_BIG_MIB:-2048}
SMALL=${BENCH_MIGRATE_SMALL:-4}
cleanup() { rm -rf "$B"; }
trap cleanup EXIT
rm -rf "$B"
mkdir -p "$B/data" "$B/psql"
now() { date +%s.%N; }
ratio() { python3 -c "import sys; print('%.3f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
dropcaches() { sync; if [[ -w /proc/sys/vm/drop_caches ]]; then echo 3 >/proc/sys/vm/drop_caches; fi; }
dburl() { python3 -c "import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path='/' + sys.argv[2])))" "$BOOTFS_TEST_DATABASE_URL" "$1"; }

go build -o "$B/bootfs-region" ./cmd/bootfs-region
psql -q "$BOOTFS_TEST_DATABASE_URL" -c 'CREATE DATABASE bench_legacy' -c 'CREATE DATABASE bench_region'
LEGACY=$(dburl bench_legacy)
REGION=$(dburl bench_region)

# The legacy database: MAAS 3.4 tables, one resource per object.
head -c "$((BIG_MIB << 20))" /dev/urandom >"$B/data/squashfs"
for i in $(seq 1 "$SMALL"); do head -c $((128 << 20)) /dev/urandom >"$B/data/initrd$i"; done
{
	cat migrate/testdata/maas34.sql
	i=0
	for f in "$B"/data/*; do
		i=$((i + 1))
		sha=$(sha256sum "$f" | cut -d' ' -f1)
		size=$(stat -c %s "$f")
		echo "\\lo_import '$f'"
		echo "INSERT INTO maasserver_largefile (sha256, total_size, size, content) VALUES ('$sha', $size, $size, :LASTOID);"
		echo "INSERT INTO maasserver_bootresource (rtype, name, architecture) VALUES (0, 'ubuntu/bench$i', 'amd64/generic');"
		echo "INSERT INTO maasserver_bootresourceset (resource_id, version, label) SELECT id, '20250718', 'stable' FROM maasserver_bootresource WHERE name = 'ubuntu/bench$i';"
		echo "INSERT INTO maasserver_bootresourcefile (resource_set_id, largefile_id, filename, filetype)
			SELECT s.id, l.id, '$(basename "$f")', 'squashfs' FROM maasserver_bootresourceset s, maasserver_largefile l
			WHERE s.resource_id = (SELECT id FROM maasserver_bootresource WHERE name = 'ubuntu/bench$i') AND l.sha256 = '$sha';"
	done
} >"$B/load.sql"
psql -q -v ON_ERROR_STOP=1 "$LEGACY" -f "$B/load.sql" >/dev/null
bytes=$(du -cb "$B"/data/* | tail -1 | cut -f1)
rm -rf "$B/data" # the objects live in the database only now

# 1a. psql \lo_export of every object, then sync.
psql -At "$LEGACY" -c "SELECT '\\lo_export ' || content || ' $B/psql/' || id FROM maasserver_largefile" >"$B/export.sql"
dropcaches
t0=$(now)
psql -q -v ON_ERROR_STOP=1 "$LEGACY" -f "$B/export.sql" >/dev/null
sync
t1=$(now)
psql_s=$(python3 -c "print($t1-$t0)")
rm -rf "$B/psql"

# 1b and 2. bootfs-region migrate of the same objects, under /usr/bin/time.
dropcaches
t2=$(now)
/usr/bin/time -v -o "$B/time.txt" "$B/bootfs-region" migrate --from-database "$LEGACY" --database-url "$REGION" \
	--storage "$B/store" --name bench --yes --log-level warn >"$B/migrate.out" 2>&1 ||
	{ cat "$B/migrate.out" >&2; exit 1; }
t3=$(now)
wall_s=$(python3 -c "print($t3-$t2)")
export_s=$(sed -n 's/^exported \([0-9]*\) bytes in \([0-9.]*\)s.*/\2/p' "$B/migrate.out")
exported=$(sed -n 's/^exported \([0-9]*\) bytes in.*/\1/p' "$B/migrate.out")
rss_kib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$B/time.txt")
stored=$(find "$B/store" -maxdepth 1 -type f -regextype posix-extended -regex '.*/[0-9a-f]{64}' | wc -l)
left=$(psql -At "$LEGACY" -c 'SELECT count(*) FROM pg_largeobject_metadata')
[[ $exported == "$bytes" && $stored == $((SMALL + 1)) && $left == 0 ]] ||
	{ echo "bench: migration incomplete: $exported of $bytes bytes, $stored files, $left objects left" >&2; cat "$B/migrate.out" >&2; exit 1; }

echo "migrate: $bytes bytes in $((SMALL + 1)) objects (largest $BIG_MIB MiB); psql \\lo_export + sync ${psql_s}s, bootfs-region migrate: export ${export_s}s, whole command ${wall_s}s (records, verifies, deletes the objects)"
echo "RATIO migrate_export_vs_lo_export $(ratio "$psql_s" "$export_s")   (target >= 0.8)"
echo "RATIO migrate_command_vs_lo_export $(ratio "$psql_s" "$wall_s")   (whole command, for information)"
echo "RSS migrate_peak_rss_mib $(python3 -c "print('%.1f' % ($rss_kib / 1024))")   (target <= 64, exporting a $BIG_MIB MiB object)"
