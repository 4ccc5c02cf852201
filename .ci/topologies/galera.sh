#!/usr/bin/env bash
# A three-node MariaDB Galera cluster on 127.0.0.1: three `mariadbd` beside the main server, on
# ports 3311, 3312, 3313 (group communication on 4567, 4577, 4587), each with its own data
# directory and a small buffer pool; node 1 bootstraps the cluster, nodes 2 and 3 join it by rsync
# state transfer. Waits until every node reports wsrep_cluster_size = 3 and wsrep_ready = ON.
# Idempotent: a cluster whose three nodes are ready is left alone; when no node runs, the cluster
# is made afresh (its data is throwaway test data). Prints `export GALERA_NODE{1,2,3}_URL=…`.
#
#   eval "$(.ci/topologies/galera.sh)"
#
# Like the main server, root has no password on 127.0.0.1 (mariadb-install-db's `normal` root).
set -euo pipefail
source "$(dirname "$0")/common.sh"

dir="$TOPOLOGIES_DIR/galera"
provider="${GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}"
nodes=(1 2 3)
sql_port() { echo $((3310 + $1)); }
gcomm_port() { echo $((4557 + 10 * $1)); }
sst_port() { echo $((4434 + 10 * $1)); }

node_sql() {
  mariadb --protocol=tcp -h 127.0.0.1 -P "$(sql_port "$1")" -uroot -N -B -e "$2"
}
node_ready() {
  [ "$(node_sql "$1" "SELECT CONCAT(
      (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'wsrep_cluster_size'), ' ',
      (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'wsrep_ready'))")" = "3 ON" ]
}
node_up() { node_sql "$1" 'SELECT 1' >/dev/null 2>&1; }
cluster_ready() { node_ready 1 && node_ready 2 && node_ready 3; }

print_urls() {
  for n in "${nodes[@]}"; do
    echo "export GALERA_NODE${n}_URL=mysql://root@127.0.0.1:$(sql_port "$n")/test"
  done
}

if cluster_ready 2>/dev/null; then
  say "the Galera cluster is ready (3 nodes)"
  print_urls
  exit 0
fi

[ -f "$provider" ] || die "no Galera provider at $provider (apt-get install galera-4)"

configure() {
  local n=$1 node="$dir/node$1"
  local addresses=()
  for m in "${nodes[@]}"; do addresses+=("127.0.0.1:$(gcomm_port "$m")"); done
  cat >"$node/my.cnf" <<CNF
[mariadbd]
datadir = $node/data
socket = $node/mariadbd.sock
pid-file = $node/mariadbd.pid
log-error = $node/mariadbd.log
port = $(sql_port "$n")
bind-address = 127.0.0.1
user = mysql
innodb_buffer_pool_size = 32M
innodb_log_file_size = 16M
performance_schema = OFF
max_connections = 100
# What Galera requires.
binlog_format = ROW
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
wsrep_on = ON
wsrep_provider = $provider
wsrep_cluster_name = encrypted_field_ci
wsrep_cluster_address = gcomm://$(IFS=,; echo "${addresses[*]}")
wsrep_node_name = node$n
wsrep_node_address = 127.0.0.1:$(gcomm_port "$n")
wsrep_node_incoming_address = 127.0.0.1:$(sql_port "$n")
wsrep_provider_options = "gcache.size=32M;ist.recv_addr=127.0.0.1:$(($(gcomm_port "$n") + 1))"
wsrep_sst_method = rsync
wsrep_sst_receive_address = 127.0.0.1:$(sst_port "$n")
CNF
}

start_node() {
  local n=$1
  shift
  # Its own process group, away from this script's: the node outlives the script.
  setsid /usr/sbin/mariadbd --defaults-file="$dir/node$n/my.cnf" "$@" \
    </dev/null >>"$dir/node$n/mariadbd.log" 2>&1 &
}

running=()
for n in "${nodes[@]}"; do node_up "$n" && running+=("$n"); done
if [ ${#running[@]} -eq 0 ]; then
  say "making a new cluster in $dir"
  rm -rf "$dir"
  mkdir -p "$dir"
  chmod 0755 "$dir"
  for n in "${nodes[@]}"; do
    mkdir -p "$dir/node$n"
    configure "$n"
    mariadb-install-db --defaults-file="$dir/node$n/my.cnf" --user=mysql \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/node$n/install.log" 2>&1 \
      || die "mariadb-install-db failed for node $n; see $dir/node$n/install.log"
    chown -R mysql:mysql "$dir/node$n"
    chmod 0700 "$dir/node$n"
  done
  start_node 1 --wsrep-new-cluster
  wait_for 60 "node 1 bootstrapped the cluster" node_up 1 \
    || die "node 1 did not start; see $dir/node1/mariadbd.log"
  node_sql 1 "CREATE DATABASE IF NOT EXISTS test"
  running=(1)
fi
# Nodes join one at a time: two joiners asking the same donor for a state transfer at once wait
# for each other.
for n in "${nodes[@]}"; do
  if ! node_up "$n"; then
    start_node "$n"
    wait_for 120 "node $n joined" node_up "$n" \
      || die "node $n did not join; see $dir/node$n/mariadbd.log"
  fi
done
wait_for 60 "the Galera cluster is ready: 3 nodes, wsrep_ready = ON on each" cluster_ready \
  || die "the cluster did not reach 3 ready nodes; see $dir/node*/mariadbd.log"
print_urls
