# shellcheck shell=bash
# Shared helpers for the bash scripts in scripts/. Source it; it defines functions and a few
# path variables only and changes no shell options of the caller.

# Repository root (the parent of scripts/), wherever the script is called from.
SHOP_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC2034 # used by the scripts that source this file
SHOP_SCRIPTS_DIR="$SHOP_REPO_ROOT/scripts"

log() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }

# is_local_host HOST: true for addresses on this machine, where the scripts may start a
# stopped service; remote ones are only checked.
is_local_host() {
    case "$1" in
        127.* | localhost | ::1 | "") return 0 ;;
        *) return 1 ;;
    esac
}

# tcp_open HOST PORT [SECONDS]: true if a TCP connection can be made. Uses bash's /dev/tcp so
# that no nc/curl is needed; `timeout` bounds a connect to an unreachable host.
tcp_open() {
    local host=$1 port=$2 secs=${3:-1}
    # shellcheck disable=SC2016 # $0/$1 are expanded by the inner bash
    timeout "$secs" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
}

# wait_until SECONDS CMD...: polls CMD every 0.2 s until it succeeds; false on timeout.
wait_until() {
    local secs=$1
    shift
    local deadline=$((SECONDS + secs))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# pid_alive PID: the process exists (and is not a zombie).
pid_alive() {
    local pid=$1 state
    [[ -n "$pid" && "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/stat" ]] || return 1
    # Third field of /proc/PID/stat is the state; Z = zombie (exited, not reaped).
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ "$state" != "Z" ]]
}

pid_dead() { ! pid_alive "$1"; }

# pid_cmd_matches PID WORD: the process's command line contains WORD, so a pid file left
# behind after a reboot does not make us signal an unrelated process that reuses the pid.
pid_cmd_matches() {
    local pid=$1 word=$2
    pid_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$word"
}

# url_with_db URL DB: a postgres:// URL with its database path replaced by DB (query kept).
url_with_db() {
    local url=$1 db=$2 query="" rest scheme
    if [[ "$url" == *\?* ]]; then
        query="?${url#*\?}"
        url="${url%%\?*}"
    fi
    scheme="${url%%://*}://"
    rest="${url#*://}"
    rest="${rest%%/*}" # user:pass@host:port
    printf '%s%s/%s%s' "$scheme" "$rest" "$db" "$query"
}

# url_add_param URL KEY=VALUE: appends a query parameter unless KEY is already present.
url_add_param() {
    local url=$1 kv=$2
    local key="${kv%%=*}"
    if [[ "$url" == *\?* ]]; then
        [[ "${url#*\?}" =~ (^|&)"$key"= ]] && {
            printf '%s' "$url"
            return
        }
        printf '%s&%s' "$url" "$kv"
    else
        printf '%s?%s' "$url" "$kv"
    fi
}

# close_inherited_fds: closes every file descriptor above 2 of the current (sub)shell. Call it in
# the subshell that execs a daemon, so the daemon holds no lock or pipe of its caller.
close_inherited_fds() {
    local fd
    for fd in "/proc/$BASHPID/fd/"*; do
        fd=${fd##*/}
        if ((fd > 2)); then
            eval "exec $fd>&-" 2>/dev/null || true
        fi
    done
}

# Benchmarks run against databases of their own, never the ones `make run` uses: a bench's data
# (accounts, products with huge stock, thousands of orders and unpublished outbox rows) would
# otherwise land in the development stack, and its relay would publish the bench's backlog.
# bench_db_name PREFIX SERVICE: the database of SERVICE (auth, catalog, cart, order, ...) for a bench.
bench_db_name() {
    local service=$2
    [[ "$service" == order ]] && service=orders
    printf '%s%s' "$1" "$service"
}

# recreate_bench_databases PREFIX SERVICE...: empty databases owned by appuser (PG_ADMIN_URL,
# default postgres@127.0.0.1); each service migrates its own at start.
recreate_bench_databases() {
    local prefix=$1 service db admin=${PG_ADMIN_URL:-postgres://postgres@${DB_HOST:-127.0.0.1}:${DB_PORT:-5432}/postgres}
    shift
    have psql || die "psql not found (Debian postgresql-client)"
    for service in "$@"; do
        db=$(bench_db_name "$prefix" "$service")
        psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
        psql "$admin" -qc "CREATE DATABASE $db OWNER ${DB_USER:-appuser}" >/dev/null
    done
}
