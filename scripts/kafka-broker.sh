#!/usr/bin/env bash
# kafka-broker.sh: install (once per machine) and start a Kafka-protocol broker for the tests:
# Tansu (Apache-2.0, Rust), built from its crates.io source, memory storage, on 127.0.0.1 only.
#
#   scripts/kafka-broker.sh [start]   install if missing, start, wait until it answers; prints
#                                     "export KAFKA_BOOTSTRAP_SERVERS=..." on stdout, and
#                                     "export KAFKA_BROKER_STARTED_BY_US=1|0"
#   scripts/kafka-broker.sh install   only build/install the broker; prints the binary's path
#   scripts/kafka-broker.sh status    exit 0 if a Kafka broker answers on the port
#   scripts/kafka-broker.sh stop      stop the broker this script started (by its pid file)
#
# Environment (optional):
#   KAFKA_PORT=9092                    listener (= advertised listener) 127.0.0.1:PORT
#   JUMPCLOUD_OCSF_CACHE=~/.cache/jumpcloud-ocsf   where the built broker is cached (outside the work tree)
#   JUMPCLOUD_OCSF_STATE=~/.local/state/jumpcloud-ocsf   pid file and log
#   KAFKA_START_TIMEOUT=60             seconds to wait for the broker to answer
#
# Building Tansu takes about 10 minutes on 2 cores, once per machine; later runs reuse the cache.
# If a Kafka-protocol broker already answers on the port, it is used and left running.
set -euo pipefail

TANSU_VERSION=0.6.0
TANSU_FEATURES=dynostore          # memory:// storage engine
HOST=127.0.0.1
PORT=${KAFKA_PORT:-9092}
CACHE=${JUMPCLOUD_OCSF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jumpcloud-ocsf}
STATE=${JUMPCLOUD_OCSF_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/jumpcloud-ocsf}
TIMEOUT=${KAFKA_START_TIMEOUT:-60}
ROOT="$CACHE/tansu-$TANSU_VERSION-$TANSU_FEATURES"
BIN="$ROOT/bin/tansu"
PIDFILE="$STATE/tansu-$PORT.pid"
LOG="$STATE/tansu-$PORT.log"

log() { printf '[kafka-broker] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Kafka ApiVersions v0 request: exit 0 if a Kafka broker answers it without error.
probe() {
  python3 - "$HOST" "$PORT" <<'PY' 2>/dev/null
import socket, struct, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    s.settimeout(3)
    cid = b"kafka-broker-probe"
    req = struct.pack(">hhih", 18, 0, 7, len(cid)) + cid
    s.sendall(struct.pack(">i", len(req)) + req)
    def read(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                sys.exit(1)
            b += c
        return b
    n = struct.unpack(">i", read(4))[0]
    corr, err = struct.unpack(">ih", read(n)[:6])
    sys.exit(0 if corr == 7 and err == 0 else 1)
except Exception:
    sys.exit(1)
PY
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

our_pid() {  # print the pid of the broker this script started, if it is alive
  [ -f "$PIDFILE" ] || return 1
  local pid; pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  case "$(ps -p "$pid" -o args= 2>/dev/null)" in *tansu*) echo "$pid" ;; *) return 1 ;; esac
}

install_broker() {
  [ -x "$BIN" ] && return 0
  command -v cargo >/dev/null 2>&1 || die "cargo is not on PATH (needed to build tansu)"
  mkdir -p "$CACHE"
  exec 8>"$CACHE/tansu-install.lock"
  flock -w 1800 8 || die "another install holds $CACHE/tansu-install.lock"
  [ -x "$BIN" ] && return 0
  local t0=$SECONDS
  log "building tansu $TANSU_VERSION (features: $TANSU_FEATURES) from crates.io; about 10 min on 2 cores, once per machine"
  cargo install tansu --version "$TANSU_VERSION" --locked --no-default-features \
    --features "$TANSU_FEATURES" --root "$ROOT" >&2
  [ -x "$BIN" ] || die "cargo install finished but $BIN is missing"
  log "installed $BIN in $((SECONDS - t0)) s"
}

start() {
  command -v python3 >/dev/null 2>&1 || die "python3 is needed for the readiness probe"
  mkdir -p "$STATE"
  local pid started=0
  if pid=$(our_pid) && probe; then
    log "broker already running (pid $pid) on $HOST:$PORT"
  elif probe; then
    log "a Kafka-protocol broker this script did not start answers on $HOST:$PORT; using it"
  else
    port_open "$PORT" && die "port $HOST:$PORT is taken by something that does not speak Kafka"
    install_broker
    log "starting tansu on $HOST:$PORT (memory storage), log $LOG"
    ( cd "$STATE" && exec setsid "$BIN" broker \
        --listener-url "tcp://$HOST:$PORT" \
        --advertised-listener-url "tcp://$HOST:$PORT" \
        --storage-engine "memory://tansu/" >>"$LOG" 2>&1 </dev/null 8>&- 9>&- ) &
    pid=$!
    echo "$pid" >"$PIDFILE"
    local t0=$SECONDS
    until probe; do
      if ! kill -0 "$pid" 2>/dev/null; then tail -n 20 "$LOG" >&2 || true; die "tansu exited during start-up"; fi
      [ $((SECONDS - t0)) -lt "$TIMEOUT" ] || die "tansu (pid $pid) did not answer within $TIMEOUT s; see $LOG"
      sleep 0.2
    done
    log "broker ready in $((SECONDS - t0)) s (pid $pid)"
    started=1
  fi
  echo "export KAFKA_BOOTSTRAP_SERVERS=$HOST:$PORT"
  echo "export KAFKA_BROKER_STARTED_BY_US=$started"
}

stop() {
  local pid
  if ! pid=$(our_pid); then rm -f "$PIDFILE"; log "no broker started by this script is running"; return 0; fi
  kill "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && { log "broker (pid $pid) still alive after 10 s; SIGKILL"; kill -9 "$pid"; }
  rm -f "$PIDFILE"
  log "broker stopped (pid $pid)"
}

case "${1:-start}" in
  start)   start ;;
  install) install_broker; echo "$BIN" ;;
  status)  if probe; then log "a Kafka broker answers on $HOST:$PORT"; else log "nothing answers on $HOST:$PORT"; exit 1; fi ;;
  stop)    stop ;;
  -h|--help|help) sed -n '2,20p' "$0" ;;
  *) die "unknown command '$1' (start|install|status|stop)" ;;
esac
