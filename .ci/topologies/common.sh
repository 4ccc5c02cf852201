# Shared by the topology scripts beside it (sourced, not run): where their data lives and how they
# report. Everything listens on 127.0.0.1 only; data directories are under $TOPOLOGIES_DIR, never
# the system's.
TOPOLOGIES_DIR="${ENCRYPTED_FIELD_TOPOLOGIES_DIR:-/tmp/encrypted-field-topologies}"
# Traversable by the postgres and mysql users, who own their own subdirectories (mode 0700).
mkdir -p "$TOPOLOGIES_DIR"
chmod 0755 "$TOPOLOGIES_DIR"

# Progress goes to stderr: stdout carries only the `export NAME=value` lines, so that
# `eval "$(.ci/topologies/galera.sh)"` sets the URLs.
say() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: runs COMMAND every half second until it succeeds.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
  say "$what"
}

# The PostgreSQL binaries of the installed major version (pg_ctl is not on PATH on Debian).
pg_bin() {
  local version
  version=$(ls /etc/postgresql | sort -n | tail -n1)
  echo "/usr/lib/postgresql/$version/bin"
}
