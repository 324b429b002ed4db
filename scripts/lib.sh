# shellcheck shell=bash
# Shared helpers for scripts/test, scripts/serve and scripts/bench. Source it; it runs nothing by itself.
#
#   ensure_deps [--no-server] [CMD:PACKAGE ...]
#                                        install the system packages we need, only if missing
#                                        (plus, for the caller, PACKAGE when CMD is missing);
#                                        --no-server: only what building threadgate needs (the
#                                        MariaDB C client library, pkg-config), no database server
#   start_mariadb DATADIR SOCKET [PORT [OPTION...]]
#                                        a private mariadbd (never the system service); PORT
#                                        (may be empty) adds TCP on 127.0.0.1, OPTIONs are extra
#                                        server options, after (so overriding) the defaults, e.g.
#                                        --log-bin=primary-bin --server-id=1 (scripts/cluster)
#   stop_mariadb                         clean shutdown of the server start_mariadb started
#   mariadb_sql SQL                      run SQL as root on that server
#   mariadb_url [DBNAME]                 its URL in the form diesel's MysqlConnection accepts
#   ensure_smtp_sink                     the e-mail tests' loopback SMTP server (aiosmtpd, pinned
#                                        with hashes in tests/smtp/requirements.txt) in a venv
#                                        under .threadgate/tools; exports
#                                        THREADGATE_TEST_SMTP_PYTHON (its python)
#
# Safe under `set -euo pipefail`. Settings (environment):
#   TG_MARIADB_EPHEMERAL=1       throwaway server: flush the redo log once a second, not per commit
#   TG_MARIADB_BUFFER_POOL=64M   InnoDB buffer pool size
#   TG_MARIADB_TIMEOUT=60        seconds to wait for the server to answer

# Debian keeps mariadbd and mariadb-install-db in /usr/sbin, which a non-root PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin" ;; esac

TG_MARIADB_PID=""
TG_MARIADB_SOCKET=""
TG_MARIADB_PORT=""
# Set to 1 by start_mariadb when it had to create the datadir (so callers can drop stale state).
TG_MARIADB_INITIALISED=0

section() {
  if [ -t 2 ]; then
    printf '\n\033[1m==> %s\033[0m\n' "$*" >&2
  else
    printf '\n==> %s\n' "$*" >&2
  fi
}
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Runs a command as root: directly, through sudo, or not at all.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $*"
  fi
}

ensure_deps() {
  command -v cargo >/dev/null 2>&1 ||
    die "cargo not found: install Rust with rustup (https://rustup.rs); rust-toolchain.toml pins the version"

  local missing=() extra=() server=1
  local cmd spec
  local cmds=(mariadbd mariadb-install-db mariadb mariadb-admin xmllint pkg-config)
  local packages=(mariadb-server mariadb-client libmariadb-dev libmariadb-dev-compat pkg-config libxml2-utils)
  if [ "${1:-}" = --no-server ]; then
    shift
    server=0
    cmds=(pkg-config)
    packages=(libmariadb-dev libmariadb-dev-compat pkg-config)
  fi
  for cmd in "${cmds[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  # Extra commands a caller needs (scripts/bench: wrk, curl), as CMD:PACKAGE.
  for spec in "$@"; do
    [[ $spec == *:* ]] || die "ensure_deps: expected CMD:PACKAGE, got '$spec'"
    if ! command -v "${spec%%:*}" >/dev/null 2>&1; then
      missing+=("${spec%%:*}")
      extra+=("${spec#*:}")
    fi
  done
  # Rust's linker and the crates that build C (mysqlclient-sys, ring) need a C compiler.
  if ! command -v cc >/dev/null 2>&1; then
    missing+=(cc)
    extra+=(gcc libc6-dev)
  fi
  # mysqlclient-sys finds the client library through pkg-config, else through mysql_config.
  if ! pkg-config --exists libmariadb 2>/dev/null && ! command -v mysql_config >/dev/null 2>&1; then
    missing+=("libmariadb (C client library)")
  fi
  [ ${#missing[@]} -eq 0 ] && return 0

  if ! command -v apt-get >/dev/null 2>&1; then
    if [ "$server" = 1 ]; then
      die "missing: ${missing[*]}; no apt-get here, install MariaDB server+client, its C client library (dev files), pkg-config and xmllint yourself"
    fi
    die "missing: ${missing[*]}; no apt-get here, install the MariaDB C client library (dev files) and pkg-config yourself"
  fi
  section "Installing missing system packages (${missing[*]})"

  # The Debian package starts the system service from its postinst; we never use it, and we must
  # not leave a mariadbd behind, so forbid service starts during the install (policy-rc.d is
  # Debian's mechanism for this; only installed if the machine has none).
  local policy=/usr/sbin/policy-rc.d policy_added=0
  if [ "$server" = 1 ] && [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy" && policy_added=1
  fi
  local rc=0
  as_root apt-get update || rc=$?
  if [ "$rc" -eq 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "${packages[@]}" ${extra[@]+"${extra[@]}"} || rc=$?
  fi
  if [ "$policy_added" -eq 1 ]; then as_root rm -f "$policy"; fi
  [ "$rc" -eq 0 ] || die "apt-get failed (status $rc)"
}

# mariadb client options for our server. --no-defaults: /etc/mysql/*.cnf points at the system
# service's socket and must not leak in.
_tg_client_opts() {
  printf '%s\n' --no-defaults --user=root "--socket=$TG_MARIADB_SOCKET"
}

mariadb_sql() {
  local opts
  mapfile -t opts < <(_tg_client_opts)
  mariadb "${opts[@]}" --batch --skip-column-names -e "$1"
}

_tg_answers() {
  local opts
  mapfile -t opts < <(_tg_client_opts)
  mariadb "${opts[@]}" --connect-timeout=2 -e 'select 1' >/dev/null 2>&1
}

# Percent-encodes a value for a URL query (diesel decodes query values; `+` would become a space).
_tg_urlencode() {
  local LC_ALL=C s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [A-Za-z0-9/._~-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# URL of the running server for diesel: over the socket, or over TCP when started with a PORT.
# An empty DBNAME gives a server URL (no default database), which diesel accepts.
mariadb_url() {
  local db=${1:-}
  if [ -n "$TG_MARIADB_PORT" ]; then
    printf 'mysql://root@127.0.0.1:%s/%s\n' "$TG_MARIADB_PORT" "$db"
  else
    printf 'mysql://root@localhost/%s?unix_socket=%s\n' "$db" "$(_tg_urlencode "$TG_MARIADB_SOCKET")"
  fi
}

start_mariadb() {
  [ $# -ge 2 ] || die "usage: start_mariadb DATADIR SOCKET [PORT [OPTION...]]"
  [ -z "$TG_MARIADB_PID" ] || die "start_mariadb: a server is already running (pid $TG_MARIADB_PID)"
  local datadir socket port=${3:-}
  local extra=("${@:4}")
  mkdir -p "$1" "$(dirname "$2")"
  datadir=$(cd "$1" && pwd)
  socket="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
  # sun_path holds 108 bytes including the final NUL.
  [ ${#socket} -le 107 ] || die "socket path too long for a unix socket (${#socket} > 107 bytes): $socket"

  TG_MARIADB_SOCKET=$socket
  TG_MARIADB_PORT=$port
  TG_MARIADB_INITIALISED=0
  if _tg_answers; then
    die "a server already answers on $socket (another scripts/serve running?)"
  fi

  local log="$datadir/mariadbd.err"
  # A temporary directory of its own (beside the datadir: inside it, it would be a database):
  # the default, /tmp, is shared with every other process of the machine.
  local tmpdir
  tmpdir="$(dirname "$datadir")/$(basename "$datadir").tmp"
  mkdir -p "$tmpdir"
  if [ ! -d "$datadir/mysql" ]; then
    # root@localhost, root@127.0.0.1 and root@::1 without a password ("normal"): the server is
    # private (socket in our own directory, or TCP on 127.0.0.1 only), and unlike the unix_socket
    # plugin this also works when the script does not run as the OS user root.
    # No --user here: with it, mariadb-install-db's chown breaks on paths containing spaces.
    if ! mariadb-install-db --no-defaults --datadir="$datadir" --tmpdir="$tmpdir" \
      --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
      >"$datadir/install.log" 2>&1; then
      cat "$datadir/install.log" >&2
      die "mariadb-install-db failed for $datadir"
    fi
    TG_MARIADB_INITIALISED=1
  fi

  local args=(
    --no-defaults
    --datadir="$datadir"
    --tmpdir="$tmpdir"
    --socket="$socket"
    --pid-file="$datadir/mariadbd.pid"
    --log-error="$log"
    --skip-log-bin
    --skip-name-resolve
    --innodb-buffer-pool-size="${TG_MARIADB_BUFFER_POOL:-64M}"
    --character-set-server=utf8mb4
    --collation-server=utf8mb4_general_ci
  )
  # mariadbd refuses to run as root unless told to; as anyone else --user only draws a warning.
  if [ "$(id -u)" -eq 0 ]; then args+=(--user=root); fi
  if [ -n "$port" ]; then
    args+=(--bind-address=127.0.0.1 --port="$port")
  else
    args+=(--skip-networking)
  fi
  if [ "${TG_MARIADB_EPHEMERAL:-0}" = 1 ]; then
    args+=(--innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0)
  fi
  args+=("${extra[@]}")

  : >"$log"
  # Own stdio: a server holding our stdout would keep `scripts/test | tee` waiting.
  mariadbd "${args[@]}" </dev/null >>"$log" 2>&1 &
  TG_MARIADB_PID=$!

  local timeout=${TG_MARIADB_TIMEOUT:-60} start=$SECONDS
  until _tg_answers; do
    if ! kill -0 "$TG_MARIADB_PID" 2>/dev/null; then
      wait "$TG_MARIADB_PID" 2>/dev/null || true
      TG_MARIADB_PID=""
      printf -- '--- %s ---\n' "$log" >&2
      cat "$log" >&2
      die "mariadbd exited during startup (log above)"
    fi
    if ((SECONDS - start >= timeout)); then
      printf -- '--- %s ---\n' "$log" >&2
      cat "$log" >&2
      stop_mariadb
      die "mariadbd did not answer on $socket within ${timeout}s (log above)"
    fi
    sleep 0.1
  done
}

stop_mariadb() {
  [ -n "$TG_MARIADB_PID" ] || return 0
  local pid=$TG_MARIADB_PID i opts
  TG_MARIADB_PID=""
  if kill -0 "$pid" 2>/dev/null; then
    mapfile -t opts < <(_tg_client_opts)
    # SQL SHUTDOWN = mariadb-admin shutdown, minus the admin tool's 1 s polling of the pid file.
    mariadb "${opts[@]}" -e SHUTDOWN >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    # Up to 30 s for a clean shutdown, then SIGKILL.
    for ((i = 0; i < 300; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      printf 'warning: mariadbd (pid %s) did not stop, killing it\n' "$pid" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

# ---- a threadgate server for a script (scripts/bench, scripts/clients) ----------------------

# A free TCP port on 127.0.0.1 (another process may still take it before it is bound).
free_port() {
  local port
  if command -v python3 >/dev/null 2>&1; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  else
    for port in $(shuf -i 20000-60000 -n 50); do
      ss -Htln "sport = :$port" | grep -q . || break
    done
  fi
  printf '%s\n' "$port"
}

# await_listen PID PORT: returns 0 once PID accepts connections on 127.0.0.1:PORT, 1 if PID
# exits or 15 s pass first.
await_listen() {
  local pid=$1 port=$2 i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

# stop_process PID: SIGTERM, up to 10 s for a graceful exit, then SIGKILL; reaps it. No-op for
# an empty or finished PID.
stop_process() {
  local pid=$1 i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# aiosmtpd in a small venv of its own (.threadgate/tools/smtp-venv), reinstalled only when
# tests/smtp/requirements.txt changes; the wheels are kept so a reinstall needs no network.
ensure_smtp_sink() {
  local root tools req venv wheels stamp want
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  tools="$root/.threadgate/tools"
  req="$root/tests/smtp/requirements.txt"
  venv="$tools/smtp-venv" wheels="$tools/smtp-wheels" stamp="$tools/smtp-venv.stamp"
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    command -v python3 >/dev/null 2>&1 || die "python3 not found (the e-mail tests need Python 3.8+ with venv)"
    mkdir -p "$tools"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
    local pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input --cache-dir "$tools/pip-cache")
    local install=("${pip[@]}" install --no-index --find-links "$wheels" --require-hashes --no-deps --only-binary=:all: -r "$req")
    if ! "${install[@]}" >"$tools/smtp-pip.log" 2>&1; then
      "${pip[@]}" download --require-hashes --no-deps --only-binary=:all: -d "$wheels" -r "$req" >>"$tools/smtp-pip.log" 2>&1 ||
        { cat "$tools/smtp-pip.log" >&2; die "pip download of the SMTP test server failed (log above)"; }
      "${install[@]}" >>"$tools/smtp-pip.log" 2>&1 || { cat "$tools/smtp-pip.log" >&2; die "pip install of the SMTP test server failed (log above)"; }
    fi
    printf '%s\n' "$want" >"$stamp"
  fi
  THREADGATE_TEST_SMTP_PYTHON="$venv/bin/python"
  export THREADGATE_TEST_SMTP_PYTHON
}

# Where cargo builds when the disk is nearly full. A debug build of threadgate and its tests
# takes about 4 GiB; with less free, the build dies halfway ("No space left on device", the
# linker killed by SIGBUS). With less than TG_MIN_BUILD_GIB (default 6) free for the target
# directory and more than twice that free in /dev/shm, this exports a CARGO_TARGET_DIR there
# (every script finds the binary through CARGO_TARGET_DIR) and says so; otherwise it warns.
ensure_build_space() {
  local root want target free shm
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  want=${TG_MIN_BUILD_GIB:-6}
  target=${CARGO_TARGET_DIR:-$root/target}
  mkdir -p "$target"
  free=$(df -Pk "$target" | awk 'NR == 2 { print int($4 / 1048576) }')
  [ "${free:-0}" -ge "$want" ] && return 0
  shm=0
  [ -d /dev/shm ] && [ -w /dev/shm ] && shm=$(df -Pk /dev/shm | awk 'NR == 2 { print int($4 / 1048576) }')
  if [ "${shm:-0}" -ge $((want * 2)) ]; then
    CARGO_TARGET_DIR=/dev/shm/threadgate-target
    export CARGO_TARGET_DIR
    printf 'only %s GiB free for %s: building in %s (tmpfs, %s GiB free)\n' \
      "$free" "$target" "$CARGO_TARGET_DIR" "$shm" >&2
  else
    printf 'warning: only %s GiB free for %s; the build may run out of space\n' "$free" "$target" >&2
  fi
}
