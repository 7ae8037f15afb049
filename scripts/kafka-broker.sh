#!/usr/bin/env bash
# kafka-broker.sh: install (once per machine) and run what the tests and benchmarks talk to:
#   - Apache Kafka (KRaft, one node acting as broker and controller) on 127.0.0.1 only, its jars
#     resolved from Maven Central by scripts/kafka/pom.xml;
#   - Apicurio Registry 3.x (a schema registry with a Confluent-compatible API under
#     /apis/ccompat/v7), its runnable distribution from Maven Central, on 127.0.0.1 only.
#
#   scripts/kafka-broker.sh start [broker|registry|all]   install if missing, start, wait until it
#                        answers; prints on stdout "export KAFKA_BOOTSTRAP_SERVERS=...",
#                        "export SCHEMA_REGISTRY_URL=..." and "export KAFKA_BROKER_STARTED_BY_US=1|0"
#                        (1 when this call started at least one of them)
#   scripts/kafka-broker.sh start secure    (or secure-broker, secure-registry) a second broker with
#                        SASL_SSL, SCRAM users and ACLs enforced, and a TLS registry with basic auth
#                        (scripts/kafka/secure.sh); prints the exports KAFKA_SECURE_BOOTSTRAP_SERVERS,
#                        KAFKA_SECURE_CA_LOCATION, KAFKA_SECURE_ADMIN_USER/_PASSWORD_FILE,
#                        KAFKA_SECURE_USER/_PASSWORD_FILE, SCHEMA_REGISTRY_TLS_URL/_USER/_PASSWORD_FILE
#                        and KAFKA_SECURE_STARTED_BY_US=1|0
#   scripts/kafka-broker.sh stop [broker|registry|all|secure]    stop what this script started (pid files)
#   scripts/kafka-broker.sh restart [...]                 stop, then start: the broker keeps its data
#   scripts/kafka-broker.sh status [...]                  exit 0 when it answers
#   scripts/kafka-broker.sh install                       only fetch the jars (cached)
#
# Environment (optional):
#   KAFKA_PORT=9092             broker listener (= advertised listener) 127.0.0.1:PORT; the
#                               controller listens on PORT+1
#   KAFKA_DATA_DIR=...          the broker's log directory (default: $STATE/kafka-$KAFKA_PORT):
#                               formatted once, kept across stop/start, so topics, records and
#                               committed offsets survive a restart
#   KAFKA_FRESH_DATA=1          when this call starts the broker, it empties that directory first
#                               (scripts/test.sh, the benchmarks): every test run creates thousands
#                               of uniquely named topics, and a broker loads each partition at
#                               start-up, so a directory kept for weeks starts in minutes
#   REGISTRY_PORT=8081          the registry's HTTP port
#   JUMPCLOUD_OCSF_CACHE=~/.cache/jumpcloud-ocsf         jars (outside the work tree)
#   JUMPCLOUD_OCSF_STATE=~/.local/state/jumpcloud-ocsf   data, pid files, logs
#   KAFKA_HEAP_OPTS="-Xms256m -Xmx1g"                    broker heap
#   REGISTRY_JAVA=...            a Java 21+ for the registry (default: Temurin 25 under /usr/lib/jvm,
#                               else the newest JDK >= 21 found there)
#   KAFKA_SECURE_PORT=9094      the secured broker's SASL_SSL listener (its controller: PORT+1)
#   KAFKA_SECURE_DATA_DIR=...   its log directory (default: $STATE/kafka-secure-$KAFKA_SECURE_PORT),
#                               formatted afresh at each start
#   REGISTRY_TLS_PORT=8444      the TLS registry's HTTPS port (its management interface: PORT+1)
#
# Cold, the first start resolves about 55 MB of broker jars and a 150 MB registry archive (about
# 30 s here); later starts reuse the cache and take a few seconds each.
set -euo pipefail

KAFKA_VERSION=4.1.2
APICURIO_VERSION=3.3.3
HOST=127.0.0.1
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=$((PORT + 1))
REGISTRY_PORT=${REGISTRY_PORT:-8081}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${JUMPCLOUD_OCSF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jumpcloud-ocsf}
STATE=${JUMPCLOUD_OCSF_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/jumpcloud-ocsf}
KAFKA_LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"
APICURIO_HOME="$CACHE/apicurio-registry-$APICURIO_VERSION"
DATA=${KAFKA_DATA_DIR:-$STATE/kafka-$PORT}
BROKER_PID="$DATA/broker.pid"
BROKER_LOG="$DATA/broker.log"
REGISTRY_DIR="$STATE/registry-$REGISTRY_PORT"
REGISTRY_PID="$REGISTRY_DIR/registry.pid"
REGISTRY_LOG="$REGISTRY_DIR/registry.log"
CLUSTER_ID=${KAFKA_CLUSTER_ID:-jOcsfTestCluster00001w}   # 16 bytes, base64url: any fixed id will do
TIMEOUT=${KAFKA_START_TIMEOUT:-120}

log() { printf '[kafka-broker] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Kafka ApiVersions v0 request to PORT (over TLS, verified with CAFILE, when given): exit 0 if a
# Kafka broker answers it without error.
probe_kafka() {
  python3 - "$HOST" "$1" "${2:-}" <<'PY' 2>/dev/null
import socket, ssl, struct, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    if sys.argv[3]:
        s = ssl.create_default_context(cafile=sys.argv[3]).wrap_socket(s, server_hostname=sys.argv[1])
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

probe_broker() { probe_kafka "$PORT"; }

probe_registry() {
  python3 - "http://$HOST:$REGISTRY_PORT/apis/ccompat/v7/subjects" <<'PY' 2>/dev/null
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=3) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# The pid in FILE, if that process is alive and its command line contains PATTERN.
live_pid() {
  [ -f "$1" ] || return 1
  local pid; pid=$(cat "$1" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  case "$(ps -p "$pid" -o args= 2>/dev/null)" in *"$2"*) echo "$pid" ;; *) return 1 ;; esac
}

# Resolves the broker's jars once per machine (flock: parallel callers wait for one download).
install_broker() {
  [ -f "$KAFKA_LIBS/.complete" ] && return 0
  command -v mvn >/dev/null 2>&1 || die "mvn is not on PATH (needed once to fetch Kafka's jars)"
  mkdir -p "$CACHE"
  exec 8>"$CACHE/kafka-install.lock"
  flock -w 900 8 || die "another install holds $CACHE/kafka-install.lock"
  [ -f "$KAFKA_LIBS/.complete" ] && return 0
  local t0=$SECONDS
  log "resolving Apache Kafka $KAFKA_VERSION from Maven Central into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS"
  mvn -q -B -f "$HERE/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" >&2 \
    || die "mvn could not resolve kafka_2.13:$KAFKA_VERSION"
  touch "$KAFKA_LIBS/.complete"
  log "kafka $KAFKA_VERSION: $(ls "$KAFKA_LIBS"/*.jar | wc -l) jars in $((SECONDS - t0)) s"
}

install_registry() {
  [ -f "$APICURIO_HOME/.complete" ] && return 0
  command -v mvn >/dev/null 2>&1 || die "mvn is not on PATH (needed once to fetch Apicurio Registry)"
  mkdir -p "$CACHE"
  exec 7>"$CACHE/registry-install.lock"
  flock -w 900 7 || die "another install holds $CACHE/registry-install.lock"
  [ -f "$APICURIO_HOME/.complete" ] && return 0
  local t0=$SECONDS
  log "resolving Apicurio Registry $APICURIO_VERSION from Maven Central into $APICURIO_HOME"
  rm -rf "$APICURIO_HOME"; mkdir -p "$APICURIO_HOME"
  mvn -q -B dependency:copy \
    -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
    -DoutputDirectory="$APICURIO_HOME" >&2 \
    || die "mvn could not resolve io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all"
  tar -xzf "$APICURIO_HOME/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" -C "$APICURIO_HOME"
  rm -f "$APICURIO_HOME/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz"
  [ -f "$APICURIO_HOME/quarkus-run.jar" ] || die "no quarkus-run.jar in the Apicurio archive"
  touch "$APICURIO_HOME/.complete"
  log "apicurio registry $APICURIO_VERSION in $((SECONDS - t0)) s"
}

# A Java >= 21 for the registry (Quarkus 3 needs it); Kafka runs on the default java (17+).
registry_java() {
  if [ -n "${REGISTRY_JAVA:-}" ]; then echo "$REGISTRY_JAVA"; return 0; fi
  local j v best="" bestv=0
  for j in /usr/lib/jvm/*/bin/java; do
    [ -x "$j" ] || continue
    v=$("$j" -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = \([0-9]*\).*/\1/p')
    if [ -n "$v" ] && [ "$v" -ge 21 ] && [ "$v" -gt "$bestv" ]; then best=$j; bestv=$v; fi
  done
  [ -n "$best" ] || die "the registry needs Java 21 or newer; none found under /usr/lib/jvm (set REGISTRY_JAVA)"
  echo "$best"
}

# server.properties and log4j2.properties of a plaintext broker in DIR on PORT (controller CPORT).
write_broker_config_to() {
  local dir=$1 port=$2 cport=$3
  mkdir -p "$dir/logs"
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$cport
listeners=PLAINTEXT://$HOST:$port,CONTROLLER://$HOST:$cport
advertised.listeners=PLAINTEXT://$HOST:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/logs
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.consumer.min.session.timeout.ms=1000
group.classic.min.session.timeout.ms=1000
transaction.abort.timed.out.transaction.cleanup.interval.ms=5000
auto.create.topics.enable=true
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.segment.bytes=67108864
PROPS
  cat >"$dir/log4j2.properties" <<'L4J'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = STDOUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
L4J
}

write_broker_config() { write_broker_config_to "$DATA" "$PORT" "$CONTROLLER_PORT"; }

# shellcheck source=scripts/kafka/secure.sh
. "$HERE/kafka/secure.sh"

start_broker() {
  local pid
  if pid=$(live_pid "$BROKER_PID" kafka.Kafka) && probe_broker; then
    log "broker already running (pid $pid) on $HOST:$PORT"; return 1
  elif probe_broker; then
    log "a Kafka broker this script did not start answers on $HOST:$PORT; using it"; return 1
  fi
  if pid=$(live_pid "$BROKER_PID" kafka.Kafka); then
    log "broker pid $pid does not answer on $HOST:$PORT; stopping it"
    stop_pid "$BROKER_PID" kafka.Kafka broker
  fi
  port_open "$PORT" && die "port $HOST:$PORT is taken by something that does not speak Kafka"
  command -v java >/dev/null 2>&1 || die "java (17 or newer) is not on PATH"
  install_broker
  if [ -d "$DATA/logs" ]; then
    local parts; parts=$(find "$DATA/logs" -mindepth 1 -maxdepth 1 -type d | wc -l)
    if [ "${KAFKA_FRESH_DATA:-0}" = 1 ]; then
      log "KAFKA_FRESH_DATA=1: emptying $DATA/logs ($parts partition directories)"
      rm -rf "$DATA/logs"
    elif [ "$parts" -ge 2000 ]; then
      log "$DATA/logs holds $parts partitions: the broker loads each at start-up (minutes); KAFKA_FRESH_DATA=1 starts it empty"
    fi
  fi
  write_broker_config
  local log4j=(-Dlog4j2.configurationFile="$DATA/log4j2.properties" -Dkafka.logs.dir="$DATA")
  # Formats only an empty log directory: data survives stop/start.
  java "${log4j[@]}" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format --ignore-formatted \
    -t "$CLUSTER_ID" -c "$DATA/server.properties" >>"$BROKER_LOG" 2>&1 \
    || { tail -n 20 "$BROKER_LOG" >&2; die "formatting $DATA/logs failed"; }
  log "starting Apache Kafka $KAFKA_VERSION on $HOST:$PORT (data $DATA, log $BROKER_LOG)"
  launch_kafka "$DATA" "$BROKER_LOG" "$BROKER_PID"
  wait_ready probe_broker "$(cat "$BROKER_PID")" "$BROKER_LOG" broker
}

# Starts the broker configured in DIR (server.properties, log4j2.properties) in the background,
# its output appended to LOG, its pid written to PIDFILE.
launch_kafka() {
  local dir=$1 logfile=$2 pidfile=$3
  # shellcheck disable=SC2086
  ( exec setsid java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$dir/log4j2.properties" -Dkafka.logs.dir="$dir" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties" \
      >>"$logfile" 2>&1 </dev/null 6>&- 7>&- 8>&- ) &
  echo "$!" >"$pidfile"
}

# Waits until PROBE succeeds; dies with the tail of LOG when PID exits or TIMEOUT passes.
wait_ready() {
  local probe=$1 pid=$2 logfile=$3 name=$4 t0=$SECONDS
  until "$probe"; do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$logfile" >&2; die "$name exited during start-up"; }
    if [ $((SECONDS - t0)) -ge "$TIMEOUT" ]; then
      tail -n 5 "$logfile" >&2
      kill -TERM "$pid" 2>/dev/null || true
      die "$name (pid $pid) did not answer within $TIMEOUT s (stopped); see $logfile"
    fi
    sleep 0.3
  done
  log "$name ready in $((SECONDS - t0)) s (pid $pid)"
}

start_registry() {
  local pid
  if pid=$(live_pid "$REGISTRY_PID" quarkus-run.jar) && probe_registry; then
    log "registry already running (pid $pid) on $HOST:$REGISTRY_PORT"; return 1
  elif probe_registry; then
    log "a registry this script did not start answers on $HOST:$REGISTRY_PORT; using it"; return 1
  fi
  port_open "$REGISTRY_PORT" && die "port $HOST:$REGISTRY_PORT is taken by something that is not a registry"
  install_registry
  local java; java=$(registry_java)
  mkdir -p "$REGISTRY_DIR"
  log "starting Apicurio Registry $APICURIO_VERSION on $HOST:$REGISTRY_PORT (log $REGISTRY_LOG)"
  ( cd "$REGISTRY_DIR" && exec setsid "$java" -Xms64m -Xmx512m -XX:+ExitOnOutOfMemoryError \
      -Dquarkus.http.host="$HOST" -Dquarkus.http.port="$REGISTRY_PORT" \
      -Dquarkus.log.level=WARN \
      -jar "$APICURIO_HOME/quarkus-run.jar" >>"$REGISTRY_LOG" 2>&1 </dev/null 6>&- 7>&- 8>&- ) &
  pid=$!
  echo "$pid" >"$REGISTRY_PID"
  wait_ready probe_registry "$pid" "$REGISTRY_LOG" registry
}

stop_pid() {  # FILE PATTERN NAME: SIGTERM (a clean shutdown), SIGKILL after 60 s
  local pid
  if ! pid=$(live_pid "$1" "$2"); then rm -f "$1"; return 0; fi
  kill -TERM "$pid"
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$3 (pid $pid) still alive after 60 s; SIGKILL"; kill -KILL "$pid"
    # Gone (its ports free) before "stopped" is said: a start right after must not find them bound.
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$1"
  log "$3 stopped (pid $pid)"
}

what=${2:-all}
case "$what" in
  broker|registry|all|secure|secure-broker|secure-registry) ;;
  *) die "unknown service '$what' (broker|registry|all|secure|secure-broker|secure-registry)" ;;
esac
# `all` is the plaintext pair, `secure` the secured pair.
want() {
  case "$what:$1" in
    all:broker|all:registry|secure:secure-broker|secure:secure-registry) return 0 ;;
  esac
  [ "$what" = "$1" ]
}

start() {
  command -v python3 >/dev/null 2>&1 || die "python3 is needed for the readiness probes"
  local started=0
  if want broker; then start_broker && started=1; fi
  if want registry; then start_registry && started=1; fi
  if want secure-broker; then start_secure_broker && started=1; fi
  if want secure-registry; then start_secure_registry && started=1; fi
  want broker && echo "export KAFKA_BOOTSTRAP_SERVERS=$HOST:$PORT"
  want registry && echo "export SCHEMA_REGISTRY_URL=http://$HOST:$REGISTRY_PORT/apis/ccompat/v7"
  secure_exports
  case "$what" in
    secure*) echo "export KAFKA_SECURE_STARTED_BY_US=$started" ;;
    *) echo "export KAFKA_BROKER_STARTED_BY_US=$started" ;;
  esac
}

stop() {
  if want registry; then stop_pid "$REGISTRY_PID" quarkus-run.jar registry; fi
  if want broker; then stop_pid "$BROKER_PID" kafka.Kafka broker; fi
  if want secure-registry; then stop_pid "$REGISTRY_TLS_PID" quarkus-run.jar "TLS registry"; fi
  if want secure-broker; then stop_pid "$SECURE_PID" kafka.Kafka "secured broker"; fi
}

status() {
  local rc=0
  if want broker; then
    if probe_broker; then log "a Kafka broker answers on $HOST:$PORT"; else log "no broker on $HOST:$PORT"; rc=1; fi
  fi
  if want registry; then
    if probe_registry; then log "a registry answers on $HOST:$REGISTRY_PORT"; else log "no registry on $HOST:$REGISTRY_PORT"; rc=1; fi
  fi
  if want secure-broker; then
    if probe_secure_broker; then log "the secured broker answers on $HOST:$SECURE_PORT"; else log "no secured broker on $HOST:$SECURE_PORT"; rc=1; fi
  fi
  if want secure-registry; then
    if probe_secure_registry; then log "the TLS registry answers on $HOST:$REGISTRY_TLS_PORT"; else log "no TLS registry on $HOST:$REGISTRY_TLS_PORT"; rc=1; fi
  fi
  return $rc
}

case "${1:-start}" in
  start)   start ;;
  stop)    stop ;;
  restart) stop; start ;;
  status)  status ;;
  install) install_broker; install_registry ;;
  -h|--help|help) sed -n '2,38p' "$0" ;;
  *) die "unknown command '$1' (start|stop|restart|status|install)" ;;
esac
