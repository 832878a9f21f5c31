// Package pgembed runs a private PostgreSQL server for the region.
//
// `bootfs-region serve` without --database-url keeps its database in a
// PostgreSQL server of its own, living entirely under the state directory:
//
//	Dir/pgdata   the cluster (initdb'ed on first start)
//	Dir/run      the server's unix socket directory, mode 0700 (see below)
//	Dir/pgport   the port number naming the socket (.s.PGSQL.PORT), chosen
//	             on first start and reused
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
// The server listens on no TCP address, only on its unix socket, whose
// directory belongs to the server's user with mode 0700: no other OS user
// can reach it (root, the region, can). Connections on the socket are
// trusted; pg_hba.conf is rewritten at every start, so a cluster made by an
// older version (which also trusted 127.0.0.1) is locked down too. URL
// connects over the socket as the cluster's superuser, "postgres";
// RunningURL finds the socket of a server another process started.
//
// # Socket path
//
// A unix socket path must fit in 107 bytes. When Dir/run/.s.PGSQL.PORT would
// be longer, the socket lives in /tmp/bootfs-pg-HASH instead, HASH being
// derived from Dir so each state directory keeps its own; Start makes sure
// it is a real directory of the server's user, mode 0700 (refusing, unless
// root, one that someone else made). Server.SocketDir says where it is
// (`psql -h DIR -p PORT -U postgres` as root or the server's user).
//
// # Supervision
//
// If postgres exits on its own, the Server logs it and starts it again after
// a growing delay, up to a few times in a row; a run that lasted long enough
// resets the count. When it gives up, Done is closed and Err says why. Stop
// shuts the server down (fast shutdown, escalating to immediate shutdown and
// then SIGKILL if it does not finish in time).
package pgembed
