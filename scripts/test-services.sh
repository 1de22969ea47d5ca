#!/usr/bin/env bash
# Run a command (the test suite) with the services it needs, each throwaway and private to this run:
#   PostgreSQL  started from the installed server binaries in a temporary folder -> OPENLFR_TEST_POSTGRES_URL
#   Redis       redis-server on 127.0.0.1, nothing saved                         -> OPENLFR_TEST_REDIS_URL
#   Chromium    Debian's /usr/bin/chromium (the browser tests drive it through Playwright)
# Missing packages are installed from Debian when running as root; otherwise it stops and says how.
# Everything it started is stopped and its folder removed on exit (trap), whatever the command's outcome.
#
#   scripts/test-services.sh pytest -q            # what `make test` does
#
# Environment:
#   OPENLFR_TEST_SERVICES   services to provide (default "postgres redis chromium"; empty: none)
#   OPENLFR_TEST_POSTGRES_URL / OPENLFR_TEST_REDIS_URL   already set: use that server, start none
#   OPENLFR_TEST_PG_PORT / OPENLFR_TEST_REDIS_PORT       fixed ports (default: free ones chosen now)
set -euo pipefail

SERVICES="${OPENLFR_TEST_SERVICES-postgres redis chromium}"
CHROMIUM=/usr/bin/chromium
WORK=""
PG_CTL=""
PG_DATA=""
REDIS_PIDFILE=""
started=$SECONDS

say() { printf 'test-services: %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
wants() { case " $SERVICES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

cleanup() {
  local rc=$?
  if [ -n "$REDIS_PIDFILE" ] && [ -s "$REDIS_PIDFILE" ]; then
    kill "$(cat "$REDIS_PIDFILE")" 2>/dev/null || true
  fi
  if [ -n "$PG_CTL" ]; then
    if is_root; then
      su postgres -s /bin/sh -c "$PG_CTL -D '$PG_DATA' -m fast -w stop" >/dev/null 2>&1 || true
    else
      "$PG_CTL" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
  fi
  if [ -n "$WORK" ]; then
    rm -rf "$WORK"
    say "services stopped and removed; $((SECONDS - started)) s in all"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_bindir() {
  local v
  v=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
  if [ -n "$v" ] && [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then
    echo "/usr/lib/postgresql/$v/bin"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  fi
}

# --- 1. packages: what is missing, installed from Debian as root, else a clear message -----------------------
missing=()
if wants postgres && [ -z "${OPENLFR_TEST_POSTGRES_URL:-}" ] && [ -z "$(pg_bindir)" ]; then
  missing+=(postgresql)
fi
if wants redis && [ -z "${OPENLFR_TEST_REDIS_URL:-}" ] && ! command -v redis-server >/dev/null 2>&1; then
  missing+=(redis-server)
fi
if wants chromium && [ ! -x "$CHROMIUM" ]; then
  missing+=(chromium fonts-dejavu-core)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    say "installing from Debian: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "the test suite needs these Debian packages, which are not installed: ${missing[*]}"
    say "install them once with:  sudo apt-get install --no-install-recommends ${missing[*]}"
    say "(or point the suite at servers of your own with OPENLFR_TEST_POSTGRES_URL / OPENLFR_TEST_REDIS_URL,"
    say " or choose what to provide with OPENLFR_TEST_SERVICES, e.g. OPENLFR_TEST_SERVICES='redis chromium')"
    exit 2
  fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/openlfr-test-services.XXXXXX")
chmod 755 "$WORK"

# --- 2. PostgreSQL ------------------------------------------------------------------------------------------
if wants postgres && [ -z "${OPENLFR_TEST_POSTGRES_URL:-}" ]; then
  bindir=$(pg_bindir)
  port=${OPENLFR_TEST_PG_PORT:-$(free_port)}
  PG_DATA="$WORK/pg"
  mkdir "$PG_DATA"
  pg_opts="-p $port -k $PG_DATA -c listen_addresses=127.0.0.1 -c fsync=off"
  if is_root; then  # initdb and the server refuse to run as root
    chown postgres "$PG_DATA"
    su postgres -s /bin/sh -c "$bindir/initdb -D '$PG_DATA' -A trust -U postgres" >"$WORK/initdb.log" 2>&1 ||
      { cat "$WORK/initdb.log" >&2; exit 1; }
    PG_CTL="$bindir/pg_ctl"
    su postgres -s /bin/sh -c "$PG_CTL -D '$PG_DATA' -o '$pg_opts' -l '$PG_DATA/log' -w start" >/dev/null ||
      { cat "$PG_DATA/log" >&2; exit 1; }
  else
    "$bindir/initdb" -D "$PG_DATA" -A trust -U postgres >"$WORK/initdb.log" 2>&1 ||
      { cat "$WORK/initdb.log" >&2; exit 1; }
    PG_CTL="$bindir/pg_ctl"
    "$PG_CTL" -D "$PG_DATA" -o "$pg_opts" -l "$PG_DATA/log" -w start >/dev/null ||
      { cat "$PG_DATA/log" >&2; exit 1; }
  fi
  psql=("$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -q -v ON_ERROR_STOP=1)
  "${psql[@]}" -c "CREATE ROLE openlfr LOGIN PASSWORD 'openlfr' CREATEDB"
  "${psql[@]}" -c "CREATE DATABASE openlfr_test OWNER openlfr"
  export OPENLFR_TEST_POSTGRES_URL="postgresql+psycopg://openlfr:openlfr@127.0.0.1:$port/openlfr_test"
  say "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $PG_DATA)"
fi

# --- 3. Redis -----------------------------------------------------------------------------------------------
if wants redis && [ -z "${OPENLFR_TEST_REDIS_URL:-}" ]; then
  port=${OPENLFR_TEST_REDIS_PORT:-$(free_port)}
  mkdir "$WORK/redis"
  REDIS_PIDFILE="$WORK/redis/redis.pid"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$WORK/redis" --save "" --appendonly no \
    --daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$WORK/redis/redis.log"
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 &&
      [ "${reply%$'\r'}" = "+PONG" ]) 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  [ -s "$REDIS_PIDFILE" ] || { cat "$WORK/redis/redis.log" >&2; say "redis-server did not start"; exit 1; }
  export OPENLFR_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
  say "Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on 127.0.0.1:$port"
fi

# --- 4. Chromium --------------------------------------------------------------------------------------------
if wants chromium; then
  say "$("$CHROMIUM" --version 2>/dev/null || echo "Chromium at $CHROMIUM")"
fi

# --- 5. the command -----------------------------------------------------------------------------------------
"$@"
