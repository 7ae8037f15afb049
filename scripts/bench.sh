#!/usr/bin/env bash
# scripts/bench.sh [EVENTS] [PAIRS]: the pipeline benchmark (not a test). Builds the release
# binary, starts the broker (scripts/kafka-broker.sh) and the Python venv like scripts/test.sh,
# then runs tests/bench/pipeline_bench.py: one simulator with EVENTS events (default 1,000,000),
# then PAIRS (default 5) back-to-back runs of the pipeline (simulator -> backfill -> broker) and of
# the confluent-kafka baseline producing the same records, alternating which goes first. It prints
# each pair's events/s, the pipeline's peak RSS and CPU per event by thread, and at the end the
# median of the pairs' ratios. When this script started the broker, it is restarted empty before
# every run (its memory storage slows by about 2 % per million records it holds).
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-1000000}
PAIRS=${2:-5}
CACHE=${JUMPCLOUD_OCSF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jumpcloud-ocsf}
VENV="$CACHE/venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet -r tests/requirements.txt
fi
cargo build --release --locked -p jumpcloud-ocsf
eval "$(scripts/kafka-broker.sh start)"
trap 'if [ "${KAFKA_BROKER_STARTED_BY_US:-0}" = 1 ]; then scripts/kafka-broker.sh stop; fi' EXIT
fresh=()
if [ "${KAFKA_BROKER_STARTED_BY_US:-0}" = 1 ]; then
  fresh=(--fresh-broker-cmd "scripts/kafka-broker.sh stop && scripts/kafka-broker.sh start")
fi
"$VENV/bin/python" tests/bench/pipeline_bench.py --binary target/release/jumpcloud-ocsf \
  --events "$EVENTS" --pairs "$PAIRS" "${fresh[@]}"
