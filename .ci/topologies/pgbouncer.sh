#!/usr/bin/env bash
# PgBouncer in transaction pooling mode on 127.0.0.1:6432, in front of the main PostgreSQL server
# (127.0.0.1:5432): every database of that server, under the same name. Idempotent: a running
# PgBouncer of this script is left alone. Prints `export PGBOUNCER_DATABASE_URL=…`.
#
#   eval "$(.ci/topologies/pgbouncer.sh)"
set -euo pipefail
source "$(dirname "$0")/common.sh"

port="${PGBOUNCER_PORT:-6432}"
dir="$TOPOLOGIES_DIR/pgbouncer"
url="postgres://postgres@127.0.0.1:$port/test"

answers() { psql "postgres://postgres@127.0.0.1:$port/test" -tAc 'SELECT 1' | grep -qx 1; }

if ! answers 2>/dev/null; then
  command -v pgbouncer >/dev/null || die "pgbouncer is not installed (apt-get install pgbouncer)"
  # Debian's package may have started its own PgBouncer (empty [databases]) on the same port.
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "127.0.0.1:$port is taken by another process (the pgbouncer package's own service?): stop it or set PGBOUNCER_PORT"
  fi
  mkdir -p "$dir"
  # The main server trusts 127.0.0.1, so PgBouncer does too; trust still needs the user listed.
  printf '"postgres" ""\n' >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
; Fewer server connections than clients: clients really do share sessions, so anything that
; relies on session state shows up in the tests.
default_pool_size = 20
max_client_conn = 400
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
ignore_startup_parameters = extra_float_digits
INI
  chown -R postgres:postgres "$dir"
  chmod 0700 "$dir"
  # PgBouncer refuses to run as root: -u drops to postgres.
  pgbouncer -d -u postgres "$dir/pgbouncer.ini"
  wait_for 30 "PgBouncer (transaction pooling) answers on 127.0.0.1:$port" answers \
    || die "PgBouncer did not answer on 127.0.0.1:$port; see $dir/pgbouncer.log"
else
  say "PgBouncer already answers on 127.0.0.1:$port"
fi
echo "export PGBOUNCER_DATABASE_URL=$url"
