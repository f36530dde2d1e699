# Shared shell helpers for scripts/up, scripts/test, scripts/db. Source, don't run.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PGHOST_ADDR="${PGHOST_ADDR:-127.0.0.1}"
export PATH="$ROOT/node_modules/.bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root or sudo to run: $*"; fi
}

# The OS user that owns clusters: Postgres refuses to run as root.
pg_os_user() {
  if [ "$(id -u)" -ne 0 ]; then id -un; return; fi
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  echo postgres
}

as_pg() {
  local u; u="$(pg_os_user)"
  if [ "$u" = "$(id -un)" ]; then "$@"; else (cd / && runuser -u "$u" -- "$@"); fi
}

# Where the dev cluster keeps its data: .local/pgdata, unless the cluster's OS user cannot
# reach the checkout (e.g. a clone under /root), then a per-checkout folder in /var/tmp.
default_pgdata() {
  local dir="$ROOT/.local/pgdata"
  if as_pg test -x "$ROOT/.local" 2>/dev/null; then echo "$dir"; return; fi
  echo "/var/tmp/lightspeedpay-$(echo "$ROOT" | md5sum | cut -c1-12)/pgdata"
}

# prometheus: for promtool, which checks and unit-tests ops/prometheus (the server it also
# installs is not started by the scripts).
APT_PACKAGES=(postgresql-15 postgresql-client-15 postgresql-contrib postgresql-15-pgtap
  postgresql-15-cron postgresql-15-plpgsql-check libtap-parser-sourcehandler-pgtap-perl
  prometheus)

ensure_system_packages() {
  local ext=/usr/share/postgresql/15/extension missing=0
  [ -x "$PG_BIN/postgres" ] || missing=1
  [ -f "$ext/pgtap.control" ] || missing=1
  [ -f "$ext/pg_cron.control" ] || missing=1
  [ -f "$ext/plpgsql_check.control" ] || missing=1
  command -v pg_prove >/dev/null || missing=1
  command -v promtool >/dev/null || missing=1
  if [ "$missing" -eq 1 ]; then
    log "installing Debian packages: ${APT_PACKAGES[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${APT_PACKAGES[@]}" >/dev/null
  fi
  command -v node >/dev/null && command -v npm >/dev/null || {
    log "installing nodejs and npm"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  }
}

# The console's browser tests (tests/e2e/test_console.py) drive Debian's Chromium through
# Playwright (the Python package, pinned in uv.lock); no browser is ever downloaded.
CHROMIUM="${LSP_CHROMIUM:-/usr/bin/chromium}"

ensure_browser() {
  if [ ! -x "$CHROMIUM" ]; then
    log "installing Debian's chromium (for the console's browser tests)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      chromium fonts-dejavu-core >/dev/null
  fi
  log "browser tests: $("$CHROMIUM" --version 2>/dev/null | head -n1), Playwright $(cd "$ROOT" &&
    uv run --frozen --quiet python -c 'from importlib.metadata import version; print(version("playwright"))')"
}

ensure_python_env() {
  if ! command -v uv >/dev/null; then
    log "installing uv"
    python3 -m pip install --quiet uv || python3 -m pip install --quiet --break-system-packages uv
  fi
  (cd "$ROOT" && uv sync --frozen --quiet)
}

ensure_supabase_cli() {
  if [ ! -x "$ROOT/node_modules/.bin/supabase" ] ||
    ! "$ROOT/node_modules/.bin/supabase" --version >/dev/null 2>&1; then
    log "installing the Supabase CLI (npm ci)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

ensure_all() {
  ensure_system_packages
  ensure_python_env
  ensure_supabase_cli
}

db_url() { # db_url PORT [USER] [PASSWORD]
  echo "postgresql://${2:-postgres}:${3:-postgres}@${PGHOST_ADDR}:$1/postgres?sslmode=disable"
}

# cluster_init PGDATA PORT: a fresh Supabase-shaped Postgres 15 cluster, not started.
cluster_init() {
  local data="$1" port="$2" u; u="$(pg_os_user)"
  mkdir -p "$data"
  chown "$u" "$data" 2>/dev/null || true
  chmod 700 "$data"
  local pwfile; pwfile="$(mktemp)"; echo postgres >"$pwfile"; chmod 644 "$pwfile"
  as_pg "$PG_BIN/initdb" -D "$data" -U postgres --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  cat >>"$data/postgresql.conf" <<CONF
# LightSpeedPay local stack: shaped like a hosted Supabase database
listen_addresses = '${PGHOST_ADDR}'
port = ${port}
unix_socket_directories = '${data}'
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
CONF
  cluster_conf "$data"
  cat >>"$data/postgresql.conf" <<CONF
wal_level = logical
max_connections = 200
fsync = ${PG_FSYNC:-on}
log_min_messages = warning
CONF
}

# Settings added after a cluster was first made: appended once, so older clusters catch up.
cluster_conf() { # cluster_conf PGDATA
  local data="$1"
  # pg_cron runs jobs in background workers: no libpq login (host auth needs a password).
  grep -q '^cron.use_background_workers' "$data/postgresql.conf" || cat >>"$data/postgresql.conf" <<CONF
cron.use_background_workers = on
max_worker_processes = 32
CONF
}

cluster_start() { # cluster_start PGDATA
  local data="$1"
  cluster_conf "$data"
  as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null
}

cluster_stop() { # cluster_stop PGDATA [mode]
  local data="$1"
  [ -f "$data/postmaster.pid" ] || return 0
  as_pg "$PG_BIN/pg_ctl" -D "$data" -m "${2:-fast}" -w -t 60 stop >/dev/null || true
}

cluster_running() { [ -f "$1/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

psql_url() { # psql_url URL [psql args...]
  local url="$1"; shift
  PGOPTIONS='--client-min-messages=warning' psql "$url" -X -q -v ON_ERROR_STOP=1 "$@"
}

# Everything hosted Supabase gives a project, then our migrations via the real CLI, then seed.
#   --no-seed        stop after the migrations
#   --baseline FILE  dump the platform-only schema to FILE before the migrations run
#                    (scripts/schema.py uses it to tell our changes from the platform's)
#   --project DIR    push the migrations of another project dir (the upgrade check)
db_build() { # db_build URL [--no-seed] [--baseline FILE] [--project DIR]
  local url="$1" seed=1 baseline="" project="$ROOT"
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --no-seed) seed=0 ;;
      --baseline) baseline="$2"; shift ;;
      --project) project="$2"; shift ;;
      *) die "db_build: unknown option $1" ;;
    esac
    shift
  done
  db_platform "$url"
  [ -z "$baseline" ] || (cd "$ROOT" && uv run --frozen --quiet python scripts/schema.py baseline "$url" "$baseline")
  db_push "$url" "$project"
  if [ "$seed" -eq 1 ]; then db_seed "$url"; fi
}

db_platform() { # db_platform URL: the hosted-Supabase stand-ins
  local url="$1"
  log "applying sql/platform (hosted-Supabase stand-ins)"
  for f in "$ROOT"/sql/platform/*.sql; do
    psql_url "$url" -f "$f" >/dev/null
    # pgmq ships as SQL in its PyPI package; install it right after the extensions file.
    if [[ "$(basename "$f")" == 20_* ]]; then
      (cd "$ROOT" && uv run --frozen --quiet python scripts/install_pgmq.py "$url")
    fi
  done
}

db_push() { # db_push URL [PROJECT_DIR]: apply a project's migrations with the Supabase CLI
  local url="$1" project="${2:-$ROOT}"
  log "applying $( [ "$project" = "$ROOT" ] && echo supabase/migrations || echo "$project/supabase/migrations") with the Supabase CLI"
  (cd "$project" && supabase db push --db-url "$url" --include-all --yes >/dev/null 2>"$ROOT/.local/db-push.log") ||
    { cat "$ROOT/.local/db-push.log" >&2; die "supabase db push failed"; }
}

db_seed() { # db_seed URL
  log "loading supabase/seed.sql"
  psql_url "$1" -f "$ROOT/supabase/seed.sql" >/dev/null
}

# A throwaway cluster on a free port for one command: sets TMP_PGDATA, TMP_PORT, TMP_URL
# and stops and removes it when the calling script exits.
tmp_cluster() {
  TMP_PGDATA="$(mktemp -d /tmp/lsp-tmp-pg.XXXXXX)"
  TMP_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  TMP_URL="$(db_url "$TMP_PORT")"
  # shellcheck disable=SC2064
  trap "cluster_stop '$TMP_PGDATA' immediate; rm -rf '$TMP_PGDATA'" EXIT
  PG_FSYNC=off cluster_init "$TMP_PGDATA" "$TMP_PORT"
  cluster_start "$TMP_PGDATA"
}
