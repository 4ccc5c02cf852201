#!/usr/bin/env bash
# A PostgreSQL streaming replica of the main server (127.0.0.1:5432) on 127.0.0.1:5433: a second
# cluster made with `pg_basebackup -R`, hot standby, read-only. Idempotent: a replica that streams
# is left alone; otherwise it is made afresh. Prints `export PG_REPLICA_DATABASE_URL=…`.
#
#   eval "$(.ci/topologies/pg-replica.sh)"
#
# Replication access: a role `encrypted_field_replicator` (REPLICATION, random password) and one
# pg_hba.conf line on the main server allowing only that role, only replication connections, only
# from 127.0.0.1, with scram-sha-256. No other line of pg_hba.conf is changed.
set -euo pipefail
source "$(dirname "$0")/common.sh"

port="${PG_REPLICA_PORT:-5433}"
dir="$TOPOLOGIES_DIR/pg-replica"
bin=$(pg_bin)
role=encrypted_field_replicator
url="postgres://postgres@127.0.0.1:$port/test"

primary() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 -tAq "$@"; }
streams() {
  [ "$(psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
    "SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')")" = t ]
}

if streams 2>/dev/null; then
  say "the replica already streams on 127.0.0.1:$port"
  echo "export PG_REPLICA_DATABASE_URL=$url"
  exit 0
fi

# A replica that runs but does not stream (or a stale directory) is made afresh.
if [ -f "$dir/data/postmaster.pid" ]; then
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
fi
rm -rf "$dir"
mkdir -p "$dir"
chown postgres:postgres "$dir"
chmod 0700 "$dir"

# The replication role and its one pg_hba.conf line (added once; reloading applies it).
password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
primary <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$role') THEN
    CREATE ROLE $role WITH LOGIN REPLICATION;
  END IF;
END \$\$;
ALTER ROLE $role WITH LOGIN REPLICATION PASSWORD '$password';
SQL
hba=$(primary -c 'SHOW hba_file')
line="host replication $role 127.0.0.1/32 scram-sha-256"
if ! grep -qxF "$line" "$hba"; then
  printf '# encrypted-field CI: the streaming replica of .ci/topologies/pg-replica.sh\n%s\n' "$line" >>"$hba"
  primary -c 'SELECT pg_reload_conf()' >/dev/null
  say "added to $hba: $line"
fi
[ "$(primary -c 'SHOW wal_level')" != minimal ] || die "the main server has wal_level = minimal: no replica possible"

# The base backup, with the standby configuration (-R: standby.signal and primary_conninfo, which
# holds the password: the directory is the postgres user's alone).
PGPASSWORD="$password" runuser -u postgres --preserve-environment -- "$bin/pg_basebackup" \
  -h 127.0.0.1 -p 5432 -U "$role" -D "$dir/data" -R -X stream --checkpoint=fast >&2
# Debian keeps the main server's postgresql.conf and pg_hba.conf in /etc: the copy has neither.
# Its own, small: hot standby, the primary's limits where a standby must match them, and the
# primary's pg_hba.conf (the same access policy).
cat >"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_buffers = 16MB
max_connections = $(primary -c 'SHOW max_connections')
max_worker_processes = $(primary -c 'SHOW max_worker_processes')
max_wal_senders = $(primary -c 'SHOW max_wal_senders')
max_locks_per_transaction = $(primary -c 'SHOW max_locks_per_transaction')
max_prepared_transactions = $(primary -c 'SHOW max_prepared_transactions')
hot_standby = on
# Readers on the replica are not cancelled by the vacuum of rows the rotation replaced.
hot_standby_feedback = on
cluster_name = 'encrypted_field_replica'
CONF
grep -vxF -e "$line" -e '# encrypted-field CI: the streaming replica of .ci/topologies/pg-replica.sh' "$hba" \
  >"$dir/data/pg_hba.conf"
chown -R postgres:postgres "$dir"
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" -w start >&2
wait_for 60 "the replica streams from 127.0.0.1:5432 on 127.0.0.1:$port" streams \
  || die "the replica on 127.0.0.1:$port does not stream; see $dir/postgresql.log"
echo "export PG_REPLICA_DATABASE_URL=$url"
