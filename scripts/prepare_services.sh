#!/usr/bin/env bash
# Prepare the local services the test suite talks to, and the browser the ui tests drive.
#
#   - PostgreSQL 15 on 127.0.0.1:5432: wal_level=logical (CDC tests); restarts the cluster only
#     when the setting has to change.
#   - RabbitMQ on 127.0.0.1:5672: the rabbitmq_stream plugin (stream port 5552).
#   - Redis on 127.0.0.1:6379: only checked.
#   - Debian's chromium (/usr/bin/chromium) for Playwright, installed with apt when missing and
#     running as root.
#   - axe-core (npm, exact version) in build/axe for the ui tests' accessibility audit; the tests
#     inject the file, so no page ever fetches it from a CDN.
#
# Idempotent, and fast when everything is already in place (no apt, no restart).  With CI=true
# any step that fails is an error (exit 1); on a laptop it is a warning and the tests that need
# that service skip with the reason.
set -uo pipefail

PG_HOST=${PGHOST:-127.0.0.1}
PG_PORT=${PGPORT:-5432}
PG_USER=${PGUSER:-postgres}
PG_VERSION=${WORKBENCH_PG_VERSION:-15}
PG_CLUSTER=${WORKBENCH_PG_CLUSTER:-main}

case "${CI:-}" in 1|true|TRUE|True|yes) STRICT=1 ;; *) STRICT=0 ;; esac
FAILED=0

say()  { printf 'prepare_services: %s\n' "$*"; }
problem() {
  if [ "$STRICT" = 1 ]; then say "ERROR: $*" >&2; FAILED=1; else say "warning: $*" >&2; fi
}
is_root() { [ "$(id -u)" = 0 ]; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_port() {  # host port seconds
  local i
  for ((i = 0; i < $3 * 4; i++)); do port_open "$1" "$2" && return 0; sleep 0.25; done
  return 1
}

# -- PostgreSQL -------------------------------------------------------------------------------
prepare_postgres() {
  if ! command -v psql >/dev/null; then problem "psql not found (PostgreSQL client)"; return; fi
  local psql=(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAXq)
  local level
  if ! level=$("${psql[@]}" -c 'show wal_level' 2>&1); then
    problem "PostgreSQL not reachable on $PG_HOST:$PG_PORT: $level"; return
  fi
  if [ "$level" = logical ]; then say "postgres: wal_level=logical"; return; fi
  say "postgres: wal_level=$level, setting logical and restarting $PG_VERSION/$PG_CLUSTER"
  if ! "${psql[@]}" -c 'ALTER SYSTEM SET wal_level = logical' >/dev/null; then
    problem "could not ALTER SYSTEM SET wal_level (needs a superuser)"; return
  fi
  if ! command -v pg_ctlcluster >/dev/null; then
    problem "pg_ctlcluster not found: restart PostgreSQL yourself to apply wal_level=logical"; return
  fi
  local restart=(pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" restart)
  if is_root || [ "$(id -un)" = postgres ]; then
    "${restart[@]}" || { problem "pg_ctlcluster restart failed"; return; }
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "${restart[@]}" || { problem "pg_ctlcluster restart failed"; return; }
  else
    problem "restart PostgreSQL as root to apply wal_level=logical: ${restart[*]}"; return
  fi
  local i
  for ((i = 0; i < 120; i++)); do
    level=$("${psql[@]}" -c 'show wal_level' 2>/dev/null) && break
    sleep 0.25
  done
  if [ "$level" = logical ]; then say "postgres: wal_level=logical (restarted)"
  else problem "postgres: wal_level is '$level' after restart"; fi
}

# -- RabbitMQ ---------------------------------------------------------------------------------
prepare_rabbitmq() {
  if port_open 127.0.0.1 5552; then say "rabbitmq: stream plugin on :5552"; return; fi
  if ! port_open 127.0.0.1 5672; then problem "RabbitMQ not reachable on 127.0.0.1:5672"; return; fi
  if ! command -v rabbitmq-plugins >/dev/null; then
    problem "rabbitmq-plugins not found: enable rabbitmq_stream yourself"; return
  fi
  say "rabbitmq: enabling rabbitmq_stream"
  local out
  if ! out=$(rabbitmq-plugins enable rabbitmq_stream 2>&1); then
    problem "rabbitmq-plugins enable rabbitmq_stream failed: $(tail -n 3 <<<"$out")"; return
  fi
  if wait_port 127.0.0.1 5552 30; then say "rabbitmq: stream plugin on :5552"
  else problem "rabbitmq_stream enabled but :5552 is not listening"; fi
}

# -- Redis ------------------------------------------------------------------------------------
prepare_redis() {
  if port_open 127.0.0.1 6379; then say "redis: up on :6379"
  else problem "Redis not reachable on 127.0.0.1:6379"; fi
}

# -- Chromium ---------------------------------------------------------------------------------
# wal2json: one of the three logical-decoding plugins the CDC source supports (pgoutput and
# test_decoding are built in). This server build also keeps an allow-list of output plugins.
prepare_wal2json() {
  command -v psql >/dev/null || return 0
  local psql=(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAXq)
  local libdir
  libdir=$(pg_config --pkglibdir 2>/dev/null || echo "/usr/lib/postgresql/${PG_VERSION}/lib")
  if [ ! -e "$libdir/wal2json.so" ] && [ ! -e "/usr/lib/postgresql/${PG_VERSION}/lib/wal2json.so" ]; then
    if ! is_root; then problem "wal2json missing; as root: apt-get install -y postgresql-${PG_VERSION}-wal2json"; return; fi
    say "postgres: installing wal2json"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "postgresql-${PG_VERSION}-wal2json" >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq "postgresql-${PG_VERSION}-wal2json" >/dev/null; } \
      || { problem "apt-get install postgresql-${PG_VERSION}-wal2json failed"; return; }
  fi
  local allowed
  if allowed=$("${psql[@]}" -c 'show output_plugin_libraries' 2>/dev/null); then
    case "$allowed" in
      *wal2json*) ;;
      *) say "postgres: allowing wal2json as an output plugin"
         # unquoted list: a quoted string would become one entry and block pgoutput too
         "${psql[@]}" -c 'ALTER SYSTEM SET output_plugin_libraries = pgoutput, test_decoding, wal2json' >/dev/null \
           && "${psql[@]}" -c 'SELECT pg_reload_conf()' >/dev/null \
           || problem "could not allow wal2json in output_plugin_libraries" ;;
    esac
  fi
  say "postgres: wal2json ready"
}

prepare_chromium() {
  if [ -x /usr/bin/chromium ]; then say "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"; return; fi
  if ! is_root; then
    problem "chromium missing; as root: apt-get update && apt-get install -y chromium"; return
  fi
  say "chromium: installing Debian's chromium with apt"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq chromium >/dev/null; then
    say "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
  else
    problem "apt-get install chromium failed"
  fi
}

# -- axe-core ---------------------------------------------------------------------------------
AXE_VERSION=${WORKBENCH_AXE_VERSION:-4.14.1}
AXE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/axe"
prepare_axe() {
  local pkg="$AXE_DIR/node_modules/axe-core/package.json"
  if [ -f "$pkg" ] && grep -q "\"version\": \"$AXE_VERSION\"" "$pkg"; then
    say "axe-core: $AXE_VERSION in $AXE_DIR"; return
  fi
  if ! command -v npm >/dev/null; then problem "npm not found: install nodejs/npm for axe-core"; return; fi
  say "axe-core: installing $AXE_VERSION into $AXE_DIR"
  local out
  if out=$(npm install --prefix "$AXE_DIR" --no-audit --no-fund --save-exact "axe-core@$AXE_VERSION" 2>&1); then
    say "axe-core: $AXE_VERSION in $AXE_DIR"
  else
    problem "npm install axe-core@$AXE_VERSION failed: $(tail -n 3 <<<"$out")"
  fi
}

prepare_postgres
prepare_wal2json
prepare_rabbitmq
prepare_redis
prepare_chromium
prepare_axe

if [ "$FAILED" != 0 ]; then
  say "some services are not ready (CI=true makes that an error)" >&2
  exit 1
fi
exit 0
