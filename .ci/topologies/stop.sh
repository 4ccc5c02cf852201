#!/usr/bin/env bash
# Stops what pgbouncer.sh, galera.sh and pg-replica.sh started (by their pid files) and removes
# their data. The main servers are left alone; so is the replication line in pg_hba.conf (it
# allows nothing without the role's password, which only the removed replica held).
set -euo pipefail
source "$(dirname "$0")/common.sh"

stop_pid_file() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
}

stop_pid_file "$TOPOLOGIES_DIR/pgbouncer/pgbouncer.pid"
# The cluster's nodes last first, so the first keeps safe_to_bootstrap.
for n in 3 2 1; do stop_pid_file "$TOPOLOGIES_DIR/galera/node$n/mariadbd.pid"; done
if [ -f "$TOPOLOGIES_DIR/pg-replica/data/postmaster.pid" ]; then
  runuser -u postgres -- "$(pg_bin)/pg_ctl" -D "$TOPOLOGIES_DIR/pg-replica/data" -m fast -w stop >&2 || true
fi
rm -rf "$TOPOLOGIES_DIR"
say "stopped; removed $TOPOLOGIES_DIR"
