#!/usr/bin/env bash
# Usage: scripts/with-postgres.sh COMMAND [ARGS...]
#
# Starts a throwaway PostgreSQL (own data directory under a mktemp dir, own
# free port on 127.0.0.1, fsync off), runs COMMAND with
# BOOTFS_TEST_DATABASE_URL set to a superuser maintenance URL, then always
# stops the server and removes its directory, and exits with COMMAND's
# status. PostgreSQL refuses to run as root, so as root it runs as the
# postgres user (created by Debian's postgresql package).
set -euo pipefail

log() { echo "with-postgres: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2fs", b - a }'; }

(($# > 0)) || { log "usage: $0 COMMAND [ARGS...]"; exit 2; }
for v in "${!PG@}"; do unset "$v"; done # PGDATA, PGPORT... would change what pg_ctl does

bindir=
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5V -r); do
	if [[ -x $d/postgres && -x $d/initdb && -x $d/pg_ctl ]]; then bindir=$d; break; fi
done
if [[ -z $bindir ]] && command -v initdb >/dev/null; then
	bindir=$(dirname "$(readlink -f "$(command -v initdb)")")
fi
[[ -n $bindir && -x $bindir/postgres ]] || { log "no PostgreSQL server binaries; run scripts/install-deps.sh"; exit 1; }

t0=$(now)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bootfs-pg.XXXXXX")
chmod 755 "$tmp"
mkdir "$tmp/data" "$tmp/run"
as_pg=()
if ((EUID == 0)); then
	id postgres >/dev/null 2>&1 || { log "running as root and there is no postgres user to run PostgreSQL as (install the postgresql package)"; rm -rf "$tmp"; exit 1; }
	chown postgres: "$tmp/data" "$tmp/run"
	touch "$tmp/log" && chown postgres: "$tmp/log"
	as_pg=(runuser -u postgres --)
fi
pg() { (cd "$tmp" && "${as_pg[@]}" "$@"); }

stopped=
cleanup() {
	local rc=$? t1
	[[ -n $stopped ]] && return
	stopped=1
	t1=$(now)
	if [[ -f $tmp/data/postmaster.pid ]]; then
		if ! pg "$bindir/pg_ctl" -D "$tmp/data" -m fast -w -t 60 stop >/dev/null 2>&1; then
			pid=$(head -n1 "$tmp/data/postmaster.pid" 2>/dev/null || true)
			if [[ -n $pid ]]; then
				log "pg_ctl stop failed; killing $pid"
				kill -KILL -- "$pid" 2>/dev/null || true
			fi
		fi
	fi
	rm -rf "$tmp"
	log "PostgreSQL stopped and removed in $(since "$t1")"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

pg "$bindir/initdb" -D "$tmp/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >"$tmp/initdb.log" 2>&1 ||
	{ cat "$tmp/initdb.log" >&2; log "initdb failed"; exit 1; }

port=
for _ in $(seq 20); do
	p=$((20000 + RANDOM % 40000))
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then continue; fi # something listens there
	opts="-c port=$p -c listen_addresses=127.0.0.1 -c unix_socket_directories=$tmp/run"
	opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
	if pg "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/log" -w -t 120 -o "$opts" start >/dev/null 2>&1; then
		port=$p
		break
	fi
	if ! grep -q "could not bind\|Address already in use" "$tmp/log" 2>/dev/null; then
		cat "$tmp/log" >&2 || true
		log "PostgreSQL did not start"
		exit 1
	fi
	: >"$tmp/log"
done
[[ -n $port ]] || { log "found no free port"; exit 1; }

export BOOTFS_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') ready on 127.0.0.1:$port in $(since "$t0")"
# Run COMMAND in the background so that a signal interrupts `wait` at once
# (bash runs traps only between commands), pass the signal on, then clean up.
"$@" &
child=$!
for sig in INT TERM HUP; do
	trap "kill -$sig $child 2>/dev/null; wait $child; exit \$((128 + $(kill -l $sig)))" "$sig"
done
set +e
wait "$child"
rc=$?
set -e
exit "$rc"
