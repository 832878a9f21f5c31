#!/usr/bin/env bash
# deb-test.sh: the Debian packages, end to end, on this machine (as root).
#
#   1. make deb; lintian on both packages (no E: line)
#   2. dpkg -i both; the bootfs-region user, its directories and the shared
#      secret exist with the right owners
#   3. systemd-analyze verify the installed units (offline: no systemd needs
#      to run), and the nginx drop-in on top of nginx.service
#   4. a dev mirror upstream; the installed bootfs-region started with the
#      unit's own command line, as its user (embedded PostgreSQL under
#      /var/lib/bootfs-region), importing from the mirror
#   5. an fstab line of the packaged form and `mount /var/lib/maas/boot`
#      (mount(8) -> mount.fuse3 -> /usr/bin/bootfs)
#   6. stock nginx with the shipped site reads files through the mount,
#      compared byte for byte with the mirror's
#   7. dpkg --purge both; no file, directory, user or process is left
#
# It installs to the real paths (that's what the packages install), so it
# refuses to run where they are in use: bootfs packages installed by
# someone else, /var/lib/maas/boot mounted or named in /etc/fstab, port
# 5248 busy. /etc/fstab is restored and both packages purged on any exit.
#
# Environment: DEBS="region.deb rack.deb" skips the build;
# NOTIFY_SOCKET is passed to the region (the Go test checks READY=1);
# KEEP_LINTIAN=1 prints lintian's whole report.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

# Only the region gets the notify socket (bootfs, nginx and the CLI would
# write to it too).
REGION_NOTIFY_SOCKET=${NOTIFY_SOCKET:-}
unset NOTIFY_SOCKET

say() { printf 'deb-test: %s\n' "$*"; }
die() { printf 'deb-test: FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (dpkg -i, mount, nginx)"
for tool in dpkg lintian systemd-analyze nginx mount.fuse3 curl setpriv; do
	command -v "$tool" >/dev/null || die "$tool is missing: run scripts/install-deps.sh"
done

MARK=/var/lib/bootfs-deb-test.installed   # says: the packages are ours to purge
T=$(mktemp -d /tmp/bootfs-deb-test.XXXXXX)
chmod 0755 "$T"
FSTAB_BACKUP=$T/fstab.orig
pids=()
installed_by_us=0

# --- refuse to disturb a host that uses these paths ----------------------
for p in bootfs bootfs-region; do
	if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx 'installed\|half-installed\|half-configured\|unpacked\|config-files'; then
		if [ -e "$MARK" ]; then
			say "purging $p left by an earlier run of this test"
			dpkg --purge "$p" >/dev/null
		else
			die "package $p is installed (not by this test): purge it first or run elsewhere"
		fi
	fi
done
rm -f "$MARK"
mountpoint -q /var/lib/maas/boot 2>/dev/null && die "/var/lib/maas/boot is mounted: this host uses it"
grep -qE '^[^#]*[[:space:]]/var/lib/maas/boot[[:space:]]' /etc/fstab && die "/etc/fstab already mounts /var/lib/maas/boot"
if (exec 3<>/dev/tcp/127.0.0.1/5248) 2>/dev/null; then die "port 5248 is in use (the shipped nginx site listens there)"; fi
maas_existed=0; [ -e /var/lib/maas ] && maas_existed=1
secret_existed=0; [ -e /var/lib/maas/secret ] && secret_existed=1

cleanup() {
	local rc=$?
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	mountpoint -q /var/lib/maas/boot && { umount /var/lib/maas/boot || umount -l /var/lib/maas/boot; }
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	[ -f "$FSTAB_BACKUP" ] && cat "$FSTAB_BACKUP" >/etc/fstab
	if [ $installed_by_us = 1 ] && [ -e "$MARK" ]; then
		pkill -u bootfs-region 2>/dev/null; sleep 1
		dpkg --purge bootfs bootfs-region >/dev/null 2>&1
		rm -f "$MARK"
	fi
	if [ $rc != 0 ]; then
		for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -40 "$f"; }; done
	fi
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT INT TERM
trap 'echo "deb-test: FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

# --- 1. build and lint ----------------------------------------------------
if [ -n "${DEBS:-}" ]; then
	read -r REGION_DEB RACK_DEB <<<"$DEBS"
else
	say "make deb"
	make -s deb >"$T/make.log" 2>&1 || { cat "$T/make.log"; die "make deb failed"; }
	REGION_DEB=$(ls -t dist/bootfs-region_*_amd64.deb | head -1)
	RACK_DEB=$(ls -t dist/bootfs_*_amd64.deb | head -1)
fi
[ -f "$REGION_DEB" ] && [ -f "$RACK_DEB" ] || die "no packages ($REGION_DEB, $RACK_DEB)"
case $(basename "$REGION_DEB") in bootfs-region_*_amd64.deb) ;; *) die "region package name $(basename "$REGION_DEB")" ;; esac
case $(basename "$RACK_DEB") in bootfs_*_amd64.deb) ;; *) die "rack package name $(basename "$RACK_DEB")" ;; esac
say "lintian $(basename "$REGION_DEB") $(basename "$RACK_DEB")"
# Exit status 1: tags at the error level; 2: lintian itself failed.
lrc=0
lintian --allow-root "$REGION_DEB" "$RACK_DEB" >"$T/lintian.log" 2>&1 || lrc=$?
if [ "${KEEP_LINTIAN:-}" = 1 ]; then cat "$T/lintian.log"; fi
if [ $lrc -gt 1 ]; then cat "$T/lintian.log"; die "lintian failed (status $lrc)"; fi
if [ $lrc = 1 ] || grep -q '^E: ' "$T/lintian.log"; then
	grep '^E: ' "$T/lintian.log" >&2 || cat "$T/lintian.log" >&2
	die "lintian reports errors"
fi
say "lintian: $(grep -c '^W: ' "$T/lintian.log" || true) warnings, no errors"

# --- 2. install -------------------------------------------------------------
# What exists before, to compare after the purge.
snapshot() {
	find /etc /usr/bin /usr/sbin /usr/share/man/man8 /usr/share/bash-completion /usr/share/doc \
		/usr/share/bootfs /lib/systemd/system /var/lib/maas /var/lib/bootfs-region /var/cache/bootfs \
		/var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
		-xdev 2>/dev/null | grep -vE '^/etc/(passwd|group|shadow|gshadow)-?$|^/etc/(ld\.so\.cache|mtab)$' | sort || true
}
snapshot >"$T/before.list"
touch "$MARK"
installed_by_us=1
say "dpkg -i"
dpkg -i "$REGION_DEB" "$RACK_DEB" >"$T/dpkg-install.log" 2>&1 || { cat "$T/dpkg-install.log"; die "dpkg -i failed"; }
grep -q '/var/lib/maas/secret' "$T/dpkg-install.log" || { cat "$T/dpkg-install.log"; die "postinst did not show the secret's path"; }
dpkg -L bootfs-region bootfs >"$T/files.list"
# Where systemd runs, postinst started the service on :5240; this test
# runs the region itself (on another port, same state directory).
if [ -d /run/systemd/system ]; then
	systemctl stop bootfs-region.service || die "systemctl stop bootfs-region failed"
fi

getent passwd bootfs-region >/dev/null || die "no user bootfs-region"
[ "$(getent passwd bootfs-region | cut -d: -f7)" = /usr/sbin/nologin ] || die "bootfs-region has a login shell"
[ "$(id -u bootfs-region)" -lt 1000 ] || die "bootfs-region is not a system user"
[ "$(stat -c %U:%G:%a /var/lib/bootfs-region)" = bootfs-region:bootfs-region:750 ] || die "/var/lib/bootfs-region: $(stat -c %U:%G:%a /var/lib/bootfs-region)"
[ "$(stat -c %U:%G /var/lib/maas/image-storage)" = bootfs-region:bootfs-region ] || die "/var/lib/maas/image-storage: $(stat -c %U:%G /var/lib/maas/image-storage)"
if [ $secret_existed = 0 ]; then
	[ "$(stat -c %U:%G:%a /var/lib/maas/secret)" = root:bootfs-region:640 ] || die "/var/lib/maas/secret: $(stat -c %U:%G:%a /var/lib/maas/secret)"
	grep -qxE '[0-9a-f]{32}' /var/lib/maas/secret || die "the generated secret is not 32 hex digits"
fi
for f in /usr/bin/bootfs /usr/bin/bootfs-region /lib/systemd/system/bootfs-region.service \
	/lib/systemd/system/var-lib-maas-boot.mount /etc/nginx/sites-available/bootfs-rack /etc/bootfs/tftpd.map \
	/usr/share/bootfs/tftpd-hpa/tftpd-hpa /usr/share/bootfs/systemd/nginx.service.d/bootfs.conf \
	/usr/share/bootfs/systemd/tftpd-hpa.service.d/bootfs.conf /usr/share/doc/bootfs/examples/fstab \
	/usr/share/man/man8/bootfs.8.gz /usr/share/man/man8/bootfs-region.8.gz \
	/usr/share/bash-completion/completions/bootfs /usr/share/bash-completion/completions/bootfs-region \
	/etc/default/bootfs-region; do
	[ -e "$f" ] || die "$f is not installed"
done
# Nothing of the rack is switched on by installing it.
[ ! -e /etc/nginx/sites-enabled/bootfs-rack ] || die "the nginx site was enabled at installation"
[ ! -e /etc/systemd/system/nginx.service.d/bootfs.conf ] && [ ! -e /etc/systemd/system/tftpd-hpa.service.d/bootfs.conf ] ||
	die "a drop-in was enabled at installation"
! ls /etc/systemd/system/*.wants/var-lib-maas-boot.mount >/dev/null 2>&1 || die "the mount unit was enabled at installation"
for b in bootfs bootfs-region; do
	v=$(/usr/bin/$b --version) || die "$b --version failed"
	[[ $v == "$b version "?* ]] || die "$b --version: $v"
	/usr/bin/$b --help >/dev/null || die "$b --help failed"
	man -l /usr/share/man/man8/$b.8.gz >/dev/null 2>&1 || die "man page of $b does not render"
	bash -n /usr/share/bash-completion/completions/$b || die "completion of $b is not valid bash"
done
say "installed: $(/usr/bin/bootfs-region --version), $(/usr/bin/bootfs --version)"

# --- 3. systemd-analyze verify ---------------------------------------------
say "systemd-analyze verify"
systemd-analyze verify /lib/systemd/system/bootfs-region.service /lib/systemd/system/var-lib-maas-boot.mount \
	>"$T/verify.log" 2>&1 || { cat "$T/verify.log"; die "systemd-analyze verify failed"; }
if [ -s "$T/verify.log" ]; then cat "$T/verify.log"; die "systemd-analyze verify warns"; fi
# The nginx drop-in, applied the way an admin enables it.
mkdir -p "$T/units/nginx.service.d"
cp /lib/systemd/system/nginx.service "$T/units/"
ln -s /usr/share/bootfs/systemd/nginx.service.d/bootfs.conf "$T/units/nginx.service.d/bootfs.conf"
cp /lib/systemd/system/var-lib-maas-boot.mount "$T/units/"
(cd "$T/units" && SYSTEMD_UNIT_PATH="$T/units:" systemd-analyze verify nginx.service) >"$T/verify-nginx.log" 2>&1 ||
	{ cat "$T/verify-nginx.log"; die "systemd-analyze verify nginx.service with the drop-in failed"; }

# --- 4. upstream mirror and the installed region ------------------------------
free_port() { local p; for p in $(seq "$1" $(($1 + 200))); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return; }; done; die "no free port near $1"; }
wait_http() { for _ in $(seq 1 300); do curl -fs -o /dev/null "$1" && return 0; sleep 0.2; done; die "$1 did not answer"; }
MPORT=$(free_port 18000)
RPORT=$(free_port 15240)
say "dev mirror on 127.0.0.1:$MPORT"
/usr/bin/bootfs-region dev-mirror --out "$T/mirror" --scale 0.01 --serve "127.0.0.1:$MPORT" >"$T/mirror.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$MPORT/streams/v1/index.sjson"

# The unit's ExecStart, continuation lines joined, $BOOTFS_REGION_OPTS
# replaced by this test's address (a later --listen wins).
exec_start=$(sed -n '/^ExecStart=/,/[^\\]$/p' /lib/systemd/system/bootfs-region.service | sed 's/\\$//' | tr -s ' \n' ' ')
exec_start=${exec_start#ExecStart=}
[[ $exec_start == /usr/bin/bootfs-region\ serve* ]] || die "unexpected ExecStart: $exec_start"
exec_start=${exec_start//\$BOOTFS_REGION_OPTS/--listen 127.0.0.1:$RPORT --url http://127.0.0.1:$RPORT --name deb-test}
unit_user=$(sed -n 's/^User=//p' /lib/systemd/system/bootfs-region.service)
[ "$unit_user" = bootfs-region ] || die "the unit runs as '$unit_user'"
say "region as $unit_user: $exec_start"
# shellcheck disable=SC2086
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ${REGION_NOTIFY_SOCKET:+NOTIFY_SOCKET=$REGION_NOTIFY_SOCKET} \
	setpriv --reuid="$unit_user" --regid="$unit_user" --init-groups --no-new-privs --inh-caps=-all \
	$exec_start >"$T/region.log" 2>&1 &
region_pid=$!
pids+=($region_pid)
wait_http "http://127.0.0.1:$RPORT/healthz"
grep -q 'bootfs-region starting.*version=' "$T/region.log" || die "the region did not log its version at start"
ps -o uid= -C postgres | tr -d ' ' | grep -qx "$(id -u bootfs-region)" || die "the embedded PostgreSQL does not run as bootfs-region"
[ -d /var/lib/bootfs-region/pgdata ] && [ "$(stat -c %U /var/lib/bootfs-region/pgdata)" = bootfs-region ] ||
	die "no cluster owned by bootfs-region in /var/lib/bootfs-region/pgdata"

export BOOTFS_REGION_URL=http://127.0.0.1:$RPORT
/usr/bin/bootfs-region sources add "http://127.0.0.1:$MPORT/" --keyring "$T/mirror/keyring.gpg" >"$T/sources.log" 2>&1 ||
	{ cat "$T/sources.log"; die "sources add failed"; }
/usr/bin/bootfs-region import --wait --timeout 10m >"$T/import.log" 2>&1 || { cat "$T/import.log"; die "import failed"; }
[ -n "$(ls -A /var/lib/maas/image-storage)" ] || die "the import stored nothing in /var/lib/maas/image-storage"
bad=$(find /var/lib/maas/image-storage /var/lib/bootfs-region ! -user bootfs-region ! -name .secret-created-by-package | head -3)
[ -z "$bad" ] || die "files not owned by bootfs-region: $bad"
say "imported: $(du -sh /var/lib/maas/image-storage | cut -f1) in the store"

# --- 5. the fstab line and mount(8) -------------------------------------------
cp /etc/fstab "$FSTAB_BACKUP"
line="http://127.0.0.1:$RPORT  /var/lib/maas/boot  fuse.bootfs  ro,allow_other,_netdev,cache_size=256M,cache_dir=/var/cache/bootfs,secret_file=/var/lib/maas/secret  0 0"
# The packaged example has this very form (only the regions differ).
grep -qE '^http://[^ ]+ +/var/lib/maas/boot +fuse\.bootfs +ro,allow_other,_netdev,cache_size=4G,cache_dir=/var/cache/bootfs,secret_file=/var/lib/maas/secret +0 +0$' \
	/usr/share/doc/bootfs/examples/fstab || die "the packaged fstab example has another form"
printf '%s\n' "$line" >>/etc/fstab
say "mount /var/lib/maas/boot"
mount /var/lib/maas/boot || die "mount /var/lib/maas/boot failed"
mountpoint -q /var/lib/maas/boot || die "/var/lib/maas/boot is not mounted"
awk '$2 == "/var/lib/maas/boot" {print $3}' /proc/mounts | grep -qx fuse.bootfs || die "not a fuse.bootfs mount"
bootfs status /var/lib/maas/boot >"$T/status.log" || die "bootfs status failed"

# --- 6. stock nginx with the shipped site ---------------------------------------
mkdir -p "$T/nginx"
cat >"$T/nginx/nginx.conf" <<NGINX
daemon off; user www-data; worker_processes 1; pid $T/nginx/nginx.pid; error_log $T/nginx.log;
events { worker_connections 64; }
http {
	include /etc/nginx/mime.types; default_type application/octet-stream;
	access_log $T/nginx/access.log;
	client_body_temp_path $T/nginx/body; proxy_temp_path $T/nginx/proxy; fastcgi_temp_path $T/nginx/fastcgi;
	uwsgi_temp_path $T/nginx/uwsgi; scgi_temp_path $T/nginx/scgi;
	include /etc/nginx/sites-available/bootfs-rack;
}
NGINX
nginx -t -c "$T/nginx/nginx.conf" >"$T/nginx-t.log" 2>&1 || { cat "$T/nginx-t.log"; die "nginx rejects the shipped site"; }
nginx -c "$T/nginx/nginx.conf" &
pids+=($!)
K=ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel
KSRC=$(find "$T/mirror/jammy" -path '*ga-22.04/generic/boot-kernel' | head -1)
[ -f "$KSRC" ] || die "the mirror has no ga-22.04 kernel"
wait_http "http://127.0.0.1:5248/$K"
curl -fsS -o "$T/got-kernel" "http://127.0.0.1:5248/$K" || die "nginx: GET /$K failed"
cmp -s "$T/got-kernel" "$KSRC" || die "nginx served other bytes for $K"
H=
for h in /var/lib/maas/boot/images/*; do cmp -s "$h" "$KSRC" && H=$(basename "$h"); done
[ -n "$H" ] || die "the kernel is not under /var/lib/maas/boot/images"
curl -fsS -o "$T/got-kernel-maas" "http://127.0.0.1:5248/images/$H/$K" || die "nginx: GET /images/$H/$K failed"
cmp -s "$T/got-kernel-maas" "$KSRC" || die "nginx served other bytes for /images/$H/..."
say "nginx served $K ($(stat -c %s "$KSRC") bytes) through the mount, as www-data"

# --- stop everything ---------------------------------------------------------------
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
umount /var/lib/maas/boot || die "umount /var/lib/maas/boot failed"
cat "$FSTAB_BACKUP" >/etc/fstab
kill -TERM "$region_pid"
for _ in $(seq 1 150); do kill -0 "$region_pid" 2>/dev/null || break; sleep 0.2; done
kill -0 "$region_pid" 2>/dev/null && die "the region did not stop within 30s of SIGTERM"
wait "$region_pid" || die "the region exited with status $? after SIGTERM"
sleep 0.5
pgrep -u bootfs-region >/dev/null && die "processes of bootfs-region remain: $(pgrep -a -u bootfs-region)"

# --- 7. purge ---------------------------------------------------------------------
say "dpkg --purge"
dpkg --purge bootfs bootfs-region >"$T/dpkg-purge.log" 2>&1 || { cat "$T/dpkg-purge.log"; die "dpkg --purge failed"; }
rm -f "$MARK"
installed_by_us=0
for p in bootfs bootfs-region; do
	! dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qv '^not-installed$' || die "$p is still known to dpkg"
done
left=$(while read -r f; do [ "$f" = /. ] && continue; if [ -e "$f" ] && [ ! -d "$f" ]; then echo "$f"; fi; done <"$T/files.list")
[ -z "$left" ] || die "files of the packages remain: $left"
getent passwd bootfs-region >/dev/null && die "user bootfs-region remains"
getent group bootfs-region >/dev/null && die "group bootfs-region remains"
for d in /var/lib/bootfs-region /var/lib/maas/image-storage /var/cache/bootfs /etc/bootfs /usr/share/bootfs /var/lib/maas/boot; do
	[ ! -e "$d" ] || die "$d remains"
done
[ $maas_existed = 1 ] || [ ! -e /var/lib/maas ] || die "/var/lib/maas remains (it did not exist before)"
[ $secret_existed = 0 ] || [ -e /var/lib/maas/secret ] || die "the purge removed a secret it did not create"
snapshot >"$T/after.list"
if ! diff "$T/before.list" "$T/after.list" >"$T/diff.log"; then
	cat "$T/diff.log"
	die "the purge left the file system different from before the installation"
fi
say "purged: nothing left"
echo "deb-test: PASS"
