#!/usr/bin/env bash
# Make PostgreSQL and Redis reachable for the test suite and the benchmarks.
# Uses DATABASE_URL / REDIS_URL when set, else 127.0.0.1:5432 and 127.0.0.1:6379.
# Starts a stopped local server, and installs one with apt when it is missing.
set -euo pipefail

DB_URL="${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/regatta}"
REDIS="${REDIS_URL:-redis://127.0.0.1:6379/0}"

hostport() { # url default_port -> "host port"
  python3 - "$1" "$2" <<'PY'
import sys
from urllib.parse import urlparse
u = urlparse(sys.argv[1])
print(u.hostname or "127.0.0.1", u.port or int(sys.argv[2]))
PY
}

reachable() { # host port
  python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except OSError:
    sys.exit(1)
PY
}

is_local() { [[ "$1" == 127.* || "$1" == localhost || "$1" == "::1" ]]; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() { # host port name
  for _ in $(seq 1 60); do reachable "$1" "$2" && return 0; sleep 0.5; done
  echo "ensure-services: $3 at $1:$2 did not come up" >&2; exit 1
}

ensure_postgres() {
  read -r host port < <(hostport "$DB_URL" 5432)
  reachable "$host" "$port" && return 0
  is_local "$host" || { echo "ensure-services: PostgreSQL at $host:$port is unreachable" >&2; exit 1; }
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "ensure-services: installing PostgreSQL with apt"
    apt_install postgresql
  fi
  local version; version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "ensure-services: starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for "$host" "$port" PostgreSQL
  # A fresh install authenticates TCP clients by password: give the superuser the one the default
  # DATABASE_URL carries (trust-auth machines ignore it). A DATABASE_URL of your own keeps its
  # server's passwords untouched.
  if [ -z "${DATABASE_URL:-}" ]; then
    as_root su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" || true
  fi
}

ensure_redis() {
  case "$REDIS" in unix://*|redis+socket://*) return 0 ;; esac
  read -r host port < <(hostport "$REDIS" 6379)
  reachable "$host" "$port" && return 0
  is_local "$host" || { echo "ensure-services: Redis at $host:$port is unreachable" >&2; exit 1; }
  if ! command -v redis-server >/dev/null; then
    echo "ensure-services: installing Redis with apt"
    apt_install redis-server
  fi
  echo "ensure-services: starting Redis on $port"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/regatta.log
  wait_for "$host" "$port" Redis
}

ensure_postgres
ensure_redis
echo "ensure-services: PostgreSQL and Redis are reachable"
