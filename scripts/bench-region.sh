#!/usr/bin/env bash
# Region benchmarks, each a ratio measured side by side in one run:
#   1. region serving a stored file / nginx serving the same store directory (same client: curl)
#   2. import from a local mirror / curl downloading the same files (both to the same disk)
#   3. start-up reconcile of a store with 10,000 files (Go benchmark)
# BENCH_SCALE (default 1: ~1 GB of jammy images) sets the data size.
# BENCH_REGION_BIN (default bin/bootfs-region) runs another build, e.g. a
# baseline built from an older commit, against the same script;
# BENCH_PORT (default 18080) is the base of the ports used (+1 upstream
# nginx, +2 store nginx, +160 region), so two runs can share a machine;
# BENCH_SKIP_GO=1 skips the Go benchmarks (3, 4).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
REGION=${BENCH_REGION_BIN:-$ROOT/bin/bootfs-region}
PORT=${BENCH_PORT:-18080}
UP=$((PORT + 1)) ST=$((PORT + 2)) RG=$((PORT + 160))
B=${BENCH_DIR:-/tmp/bootfs-bench-region}
SCALE=${BENCH_SCALE:-1}
ROUNDS=${BENCH_ROUNDS:-3}
pids=()
cleanup() { set +e; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$B"; }
trap cleanup EXIT
rm -rf "$B"; mkdir -p "$B/nginx"
now() { date +%s.%N; }
ratio() { python3 -c "import sys; print('%.3f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
median() { python3 -c "import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
wait_http() { for _ in $(seq 1 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "bench: $1 did not answer" >&2; exit 1; }

"$REGION" dev-mirror --out "$B/mirror" --scale "$SCALE" --release jammy >/dev/null 2>&1

# nginx serves the mirror (upstream) on :18081 and later the region store on :18082.
cat >"$B/nginx/nginx.conf" <<NGINX
daemon off; user root; worker_processes 1; pid $B/nginx/pid; error_log $B/nginx/error.log;
events { worker_connections 256; }
http { access_log off; sendfile on; tcp_nopush on; default_type application/octet-stream;
  client_body_temp_path $B/nginx; proxy_temp_path $B/nginx; fastcgi_temp_path $B/nginx; uwsgi_temp_path $B/nginx; scgi_temp_path $B/nginx;
  server { listen 127.0.0.1:$UP; root $B/mirror; }
  server { listen 127.0.0.1:$ST; root $B/store; }
}
NGINX
/usr/sbin/nginx -c "$B/nginx/nginx.conf" & pids+=($!)
wait_http http://127.0.0.1:$UP/streams/v1/index.json

"$REGION" serve --storage "$B/store" --state-dir "$B/state" --secret-file "$B/secret" \
	--listen 127.0.0.1:$RG --url http://127.0.0.1:$RG --name bench --verify-rate 0 --import-interval 0 >"$B/region.log" 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:$RG/healthz
export BOOTFS_REGION_URL=http://127.0.0.1:$RG BOOTFS_SECRET_FILE=$B/secret
"$REGION" sources add http://127.0.0.1:$UP/ --keyring "$B/mirror/keyring.gpg" >/dev/null

# 2. import vs curl of the same item files (metadata excluded from curl; it is tiny).
items=$(cd "$B/mirror" && find . -type f ! -path './streams/*' ! -name 'keyring*' | sed 's|^\./||')
bytes=$(cd "$B/mirror" && du -cb $items | tail -1 | cut -f1)
sync
t0=$(now)
mkdir -p "$B/curl"
for f in $items; do curl -fsS -o "$B/curl/$(echo "$f" | tr / _)" "http://127.0.0.1:$UP/$f"; done
sync
t1=$(now)
rm -rf "$B/curl"
sync
t2=$(now)
"$REGION" import --wait >/dev/null
t3=$(now)
curl_s=$(python3 -c "print($t1-$t0)"); import_s=$(python3 -c "print($t3-$t2)")
echo "import: $bytes bytes; curl ${curl_s}s, bootfs-region import ${import_s}s"
echo "RATIO import_vs_curl $(ratio "$curl_s" "$import_s")   (target >= 0.95; import hashes every byte twice in one pass on two goroutines: the whole-file sha256 and the block digests)"

# 1. serving: the biggest stored file, region API vs nginx on the same directory, same client.
big=$(ls -S "$B/store" | grep -E '^[0-9a-f]{64}$' | head -1)
size=$(stat -c %s "$B/store/$big")
cat "$B/store/$big" >/dev/null # both read from the page cache
rs=(); ns=()
for _ in $(seq 1 "$ROUNDS"); do
	a=$(now); curl -fsS -o /dev/null -H "Authorization: Bearer $(cat "$B/secret")" "http://127.0.0.1:$RG/api/v1/blobs/$big"; b=$(now)
	c=$(now); curl -fsS -o /dev/null "http://127.0.0.1:$ST/$big"; d=$(now)
	rs+=("$(python3 -c "print($b-$a)")"); ns+=("$(python3 -c "print($d-$c)")")
done
r=$(median "${rs[@]}"); n=$(median "${ns[@]}")
algo=$(curl -fsS -H "Authorization: Bearer $(cat "$B/secret")" "http://127.0.0.1:$RG/api/v1/blobs/$big/blocks?algorithms=blake3" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("algorithm") or "sha256")')
echo "serve: $size bytes, every block verified ($algo block digests); region ${r}s, nginx ${n}s (median of $ROUNDS)"
echo "RATIO region_serve_vs_nginx $(ratio "$n" "$r")   (target >= 0.9, every block verified)"

[ "${BENCH_SKIP_GO:-}" = 1 ] && exit 0

# Verify-on-read alone (read, hash every block, compare, write to io.Discard), BLAKE3 block
# digests against SHA-256 ones (files of an earlier release), in one run (issue #15).
go test -run '^$' -bench 'BenchmarkVerifiedCopy' -benchtime 20x -count 3 ./region/store/ | grep -E '^Benchmark' |
	awk '{ split($1, n, "/"); sub(/-[0-9]+$/, "", n[2]); s[n[2]] += $(NF-1); c[n[2]]++; print }
	END { if (c["blake3"] && c["sha256"]) printf "RATIO verified_copy_blake3_vs_sha256 %.2f   (MB/s, mean of %d; the lever behind region_serve_vs_nginx)\n", (s["blake3"]/c["blake3"]) / (s["sha256"]/c["sha256"]), c["blake3"] }'

# 3. reconcile of 10,000 files.
go test -run '^$' -bench 'BenchmarkReconcile10k' -benchtime 5x ./region/store/ | grep -E 'Benchmark|ok'

# 4. three regions converging vs one region alone, upstream capped (issue: <= 1.2, upstream/unique = 1.00).
go test -run '^$' -bench 'BenchmarkConvergence' -benchtime 1x ./region/ 2>/dev/null | grep -E '^Benchmark'
