// Package pgembed runs a private PostgreSQL server for the region.
//
// `bootfs-region serve` without --database-url keeps its database in a
// PostgreSQL server of its own, living entirely under the state directory:
//
//	Dir/pgdata   the cluster (initdb'ed on first start)
//	Dir/run      the server's unix socket directory (see below)
//	Dir/pgport   the TCP port chosen on first start, reused when still free
//
// Start initialises the cluster on first use, starts `postgres` as a direct
// child process (not daemonised through pg_ctl) so that it is supervised and
// dies with the region (the kernel sends it SIGINT, a fast shutdown, if the
// region process disappears), waits until it accepts connections and
// creates the region's database.
//
// # Binaries
//
// Debian's PostgreSQL packages install version-specific binaries in
// /usr/lib/postgresql/VERSION/bin; the newest such directory is used, else
// the directory of `initdb` found on PATH. FindBinDir reports ErrNoBinaries
// when neither exists.
//
// # Users
//
// PostgreSQL refuses to run as root. When the region runs as root, initdb and
// postgres run as Options.User (default "postgres", the user Debian's
// postgresql-common package creates), the data directory is chowned to that
// user, and every directory above it must be searchable by it (Start checks
// this and says which directory is not). When not root, everything runs as
// the current user and Options.User is ignored.
//
// # Access
//
// The server listens on 127.0.0.1 only and trusts every local connection (on
// the unix socket and on 127.0.0.1): it is a private server, protected by
// the machine's own users, never reachable from the network. URL connects as
// the cluster's superuser, "postgres".
//
// # Socket path
//
// A unix socket path must fit in 107 bytes. When Dir/run/.s.PGSQL.PORT would
// be longer, the socket lives in /tmp/bootfs-pg-HASH instead, HASH being
// derived from Dir so each state directory keeps its own. Clients of this
// package connect over TCP, so the socket location only matters to someone
// running psql by hand (Server.SocketDir says where it is).
//
// # Supervision
//
// If postgres exits on its own, the Server logs it and starts it again after
// a growing delay, up to a few times in a row; a run that lasted long enough
// resets the count. When it gives up, Done is closed and Err says why. Stop
// shuts the server down (fast shutdown, escalating to immediate shutdown and
// then SIGKILL if it does not finish in time).
package pgembed
