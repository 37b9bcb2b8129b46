#!/usr/bin/env bash
# Makes sure a PostgreSQL server listens on 127.0.0.1:5432 for the multi-instance tests, and creates or
# drops a database for a test run.
#
#   scripts/ensure-postgres.sh               the server only
#   scripts/ensure-postgres.sh create <db>   the server, then a fresh (empty) database <db>
#   scripts/ensure-postgres.sh drop <db>     drops <db> (connections to it are closed first)
#
# When nothing answers on 127.0.0.1:5432: installs Debian's postgresql if it is missing (apt-get), creates
# a cluster if there is none, makes it listen on 127.0.0.1 only, lets the user postgres in from 127.0.0.1
# without a password (a local test server only) and starts it with pg_ctlcluster. Exits non-zero, with a
# message, when PostgreSQL cannot be made available.
# Env: PGHOST (127.0.0.1), PGPORT (5432), PGUSER (postgres); PGPASSWORD is passed on to psql if set.
set -euo pipefail

HOST="${PGHOST:-127.0.0.1}"
PORT="${PGPORT:-5432}"
PGUSER_="${PGUSER:-postgres}"

say() { echo "ensure-postgres: $*" >&2; }
die() { say "$*"; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
fi

ready() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$HOST" -p "$PORT" -t 2; }

psql_() { PGOPTIONS='-c client_min_messages=warning' psql -h "$HOST" -p "$PORT" -U "$PGUSER_" -v ON_ERROR_STOP=1 -qAt "$@"; }

install_postgres() {
  say "installing Debian's postgresql (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || die "apt-get update failed"
  $SUDO apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null || die "apt-get install postgresql failed"
}

start_server() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v pg_lsclusters >/dev/null 2>&1; then
    install_postgres
  fi
  command -v pg_lsclusters >/dev/null 2>&1 || die "pg_lsclusters is missing after installing postgresql"
  local version cluster
  # the cluster on our port; without one: a new cluster (main when there is none at all) on that port
  read -r version cluster < <(pg_lsclusters -h 2>/dev/null | awk -v p="$PORT" '$3 == p {print $1, $2; exit}') || true
  if [ -z "${version:-}" ]; then
    version="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1)"
    [ -n "$version" ] || die "no PostgreSQL version found in /usr/lib/postgresql"
    if [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then cluster=main; else cluster="test$PORT"; fi
    say "creating cluster $version/$cluster on port $PORT"
    $SUDO pg_createcluster "$version" "$cluster" -p "$PORT" >/dev/null || die "pg_createcluster failed"
  fi
  local conf="/etc/postgresql/$version/$cluster"
  # loopback only; a test server: postgres may connect from 127.0.0.1 without a password
  $SUDO sed -i -E "s/^#?\s*listen_addresses\s*=.*/listen_addresses = '127.0.0.1'/" "$conf/postgresql.conf"
  if ! $SUDO grep -qE "^host\s+all\s+$PGUSER_\s+127\.0\.0\.1/32\s+trust" "$conf/pg_hba.conf"; then
    $SUDO sed -i "1i host all $PGUSER_ 127.0.0.1/32 trust" "$conf/pg_hba.conf"
  fi
  say "starting cluster $version/$cluster"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start || $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" reload || true
  for _ in $(seq 1 30); do
    ready && return 0
    sleep 1
  done
  die "PostgreSQL does not answer on $HOST:$PORT after starting cluster $version/$cluster"
}

valid_name() { [[ "$1" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "invalid database name '$1' (lower-case letters, digits, _)"; }

ready || start_server
psql_ -d postgres -c 'select 1' >/dev/null || die "cannot connect to $HOST:$PORT as $PGUSER_"

case "${1:-}" in
  "") ;;
  create)
    db="${2:?database name missing}"
    valid_name "$db"
    psql_ -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" -c "CREATE DATABASE \"$db\"" >/dev/null
    say "database $db created on $HOST:$PORT"
    ;;
  drop)
    db="${2:?database name missing}"
    valid_name "$db"
    psql_ -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
    say "database $db dropped"
    ;;
  *) die "usage: $0 [create <db> | drop <db>]" ;;
esac
