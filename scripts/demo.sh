#!/usr/bin/env bash
# make demo: the whole path on one machine, from an upstream mirror to a
# client fetching boot files the way a PXE-booting machine does:
#
#   dev mirror (signed simplestreams, HTTP :8000)
#     -> bootfs-region (embedded PostgreSQL, store, API :5240)
#       -> bootfs FUSE mount (block cache)
#         -> tftpd-hpa (:6969) and nginx (:5248) serving the mount, unmodified
#           -> tftp and curl clients, checked byte for byte against upstream
#
# Everything lives under $DEMO_DIR (default /tmp/bootfs-demo). The demo
# keeps running until Ctrl-C when started from a terminal (or with
# DEMO_KEEP=1); otherwise it tears everything down after the checks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
D=${DEMO_DIR:-/tmp/bootfs-demo}
SCALE=${DEMO_SCALE:-0.05}
BIN=$ROOT/bin
[ "$(id -u)" = 0 ] || { echo "demo: run as root (FUSE allow_other, tftpd-hpa)" >&2; exit 1; }

pids=()
cleanup() {
	set +e
	echo "demo: stopping"
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.5
	mountpoint -q "$D/boot" && { fusermount3 -u "$D/boot" 2>/dev/null || umount -l "$D/boot"; }
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT INT TERM

mountpoint -q "$D/boot" 2>/dev/null && umount -l "$D/boot"
rm -rf "$D"; mkdir -p "$D/boot" "$D/nginx" "$D/cache"
step() { printf '\n== %s\n' "$*"; }
wait_http() { for _ in $(seq 1 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.2; done; echo "demo: $1 did not answer" >&2; exit 1; }

step "1. upstream: a signed simplestreams mirror on http://127.0.0.1:8000/"
"$BIN/bootfs-region" dev-mirror --out "$D/mirror" --scale "$SCALE" --serve 127.0.0.1:8000 >"$D/mirror.log" 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:8000/streams/v1/index.sjson
head -1 "$D/mirror.log"

step "2. region: embedded PostgreSQL under $D/state, store $D/store, API http://127.0.0.1:5240"
"$BIN/bootfs-region" serve --storage "$D/store" --state-dir "$D/state" --secret-file "$D/secret" \
	--listen 127.0.0.1:5240 --url http://127.0.0.1:5240 --name demo-region >"$D/region.log" 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:5240/healthz
export BOOTFS_REGION_URL=http://127.0.0.1:5240 BOOTFS_SECRET_FILE=$D/secret
"$BIN/bootfs-region" sources add http://127.0.0.1:8000/ --keyring "$D/mirror/keyring.gpg"
"$BIN/bootfs-region" import --wait --timeout 10m
"$BIN/bootfs-region" status
"$BIN/bootfs-region" images list

step "3. rack: bootfs mounts the boot tree at $D/boot"
"$BIN/bootfs" http://127.0.0.1:5240 "$D/boot" \
	-o "allow_other,cache_size=1G,cache_dir=$D/cache,secret_file=$D/secret,log_level=info" 2>"$D/bootfs.log"
# bootfs returns once the mount serves; -f would keep it in the foreground.
ls "$D/boot" | head -20
find "$D/boot/ubuntu" -type f | head

step "4. tftpd-hpa (stock) serves the mount on 127.0.0.1:6969"
/usr/sbin/in.tftpd -L -s "$D/boot" -a 127.0.0.1:6969 -m "$ROOT/packaging/tftpd-hpa/tftpd.map" &
pids+=($!)

step "5. nginx (stock) serves the mount on 127.0.0.1:5248"
sed -e "s|/var/lib/maas/boot|$D/boot|g" -e "s|listen 5248;|listen 127.0.0.1:5248;|; s|listen \[::\]:5248;||" \
	"$ROOT/packaging/nginx/bootfs-rack" >"$D/nginx/site.conf"
cat >"$D/nginx/nginx.conf" <<NGINX
daemon off; user root; worker_processes 1; pid $D/nginx/nginx.pid; error_log $D/nginx/error.log;
events { worker_connections 256; }
http {
	access_log $D/nginx/access.log; client_body_temp_path $D/nginx; proxy_temp_path $D/nginx;
	fastcgi_temp_path $D/nginx; uwsgi_temp_path $D/nginx; scgi_temp_path $D/nginx;
	sendfile on; default_type application/octet-stream;
	include $D/nginx/site.conf;
}
NGINX
/usr/sbin/nginx -c "$D/nginx/nginx.conf" &
pids+=($!)
wait_http http://127.0.0.1:5248/lpxelinux.0

step "6. a client fetches boot files as a PXE-booting machine would"
fail=0
check() { # name got-file upstream-file
	if cmp -s "$2" "$3"; then echo "ok    $1"; else echo "FAIL  $1"; fail=1; fi
}
cd "$D"
tftp 127.0.0.1 6969 -m binary -c get lpxelinux.0 "$D/got-lpxelinux.0"
tar -xJf "$(find "$D/mirror/bootloaders/pxe" -name '*.tar.xz' | head -1)" -C "$D" lpxelinux.0 2>/dev/null || \
	tar -xJf "$(find "$D/mirror/bootloaders/pxe" -name '*.tar.xz' | head -1)" -C "$D"
check "TFTP lpxelinux.0 from tftpd-hpa" "$D/got-lpxelinux.0" "$D/lpxelinux.0"
K=ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel
KSRC=$(find "$D/mirror/jammy" -path '*ga-22.04/generic/boot-kernel' | head -1)
tftp 127.0.0.1 6969 -m binary -c get "$K" "$D/got-kernel-tftp"
check "TFTP $K from tftpd-hpa" "$D/got-kernel-tftp" "$KSRC"
curl -fsS -o "$D/got-kernel-http" "http://127.0.0.1:5248/$K"
check "HTTP $K from nginx" "$D/got-kernel-http" "$KSRC"
H=
for h in $(ls "$D/boot/images"); do
	if cmp -s "$D/boot/images/$h" "$KSRC"; then H=$h; fi
done
curl -fsS -o "$D/got-kernel-maas" "http://127.0.0.1:5248/images/$H/ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"
check "HTTP /images/$H/... (MAAS 3.5 URL) from nginx" "$D/got-kernel-maas" "$KSRC"
SQ=ubuntu/amd64/ga-24.04/noble/stable/squashfs
curl -fsS -r 1000-1999 -o "$D/got-range" "http://127.0.0.1:5248/$SQ"
dd if="$(find "$D/mirror/noble" -name squashfs | head -1)" bs=1000 skip=1 count=1 status=none of="$D/want-range"
check "HTTP Range request for $SQ from nginx" "$D/got-range" "$D/want-range"

step "7. rack status"
"$BIN/bootfs" status "$D/boot" || true
[ $fail = 0 ] || { echo "demo: a check failed" >&2; exit 1; }
echo
echo "demo: the whole path works. Region console: http://127.0.0.1:5240/ (log in with the secret: $(cat "$D/secret"))"
if [ -t 0 ] || [ "${DEMO_KEEP:-}" = 1 ]; then
	echo "demo: running; Ctrl-C stops everything"
	wait "${pids[0]}"
fi
