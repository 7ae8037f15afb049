#!/usr/bin/env bash
# scripts/bench-msp.sh [ORGS] [EVENTS] [SECONDS] [AUDIT]: the MSP benchmark (not a test). One `run`
# serving ORGS organisations (default 1,000) of one provider, discovered with org_ids = "all",
# against the simulator with EVENTS history events (default 100,000), late arrival on and live
# events, with lag = "30s", poll_interval = "30s" and the default 10 requests/s, for SECONDS
# (default 240), in exactly-once mode, with the audit on (AUDIT = on, default) or off. Prints
# each organisation's data lag once caught up (p50/p95/max, against lag + poll_interval + 30 s),
# peak RSS, CPU seconds, what a read_committed consumer finds missing or duplicated, and with
# the audit its windows compared and its records in the state topic. See
# tests/bench/msp_bench.py. LIVE_RATE (default 5) sets the live events per second, all
# organisations together: `LIVE_RATE=27.8 scripts/bench-msp.sh 1 0 300` is one organisation of
# 100,000 events an hour. MSP_EXTRA_CONFIG appends TOML to the run's configuration (experiments:
# $'[pipeline]\nmax_in_flight_events = 3000').
# Builds the release binary, starts Apache Kafka (a broker already answering is reused) and the
# Python venv like scripts/bench.sh; the run's topics are deleted at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ORGS=${1:-1000}
EVENTS=${2:-100000}
SECONDS_RUN=${3:-240}
AUDIT=${4:-on}
. scripts/venv.sh
cargo build --release --locked -p jumpcloud-ocsf
exports=$(KAFKA_FRESH_DATA=1 scripts/kafka-broker.sh start broker) || { echo "Kafka did not start" >&2; exit 1; }
eval "$exports"
trap 'if [ "${KAFKA_BROKER_STARTED_BY_US:-0}" = 1 ]; then scripts/kafka-broker.sh stop broker; fi' EXIT
"$VENV/bin/python" tests/bench/msp_bench.py --binary target/release/jumpcloud-ocsf \
  --orgs "$ORGS" --events "$EVENTS" --seconds "$SECONDS_RUN" --audit "$AUDIT" \
  --live-rate "${LIVE_RATE:-5}"
