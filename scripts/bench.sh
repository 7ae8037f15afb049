#!/usr/bin/env bash
# scripts/bench.sh [EVENTS]: the pipeline benchmark (not a test). Builds the release binary,
# starts the broker (scripts/kafka-broker.sh) and the Python venv like scripts/test.sh, then runs
# tests/bench/pipeline_bench.py: simulator -> pipeline -> broker for EVENTS events (default
# 1,000,000), printing events/s and peak RSS next to a confluent-kafka baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-1000000}
CACHE=${JUMPCLOUD_OCSF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jumpcloud-ocsf}
VENV="$CACHE/venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet -r tests/requirements.txt
fi
cargo build --release --locked -p jumpcloud-ocsf
eval "$(scripts/kafka-broker.sh start)"
if [ "${KAFKA_BROKER_STARTED_BY_US:-0}" = 1 ]; then trap 'scripts/kafka-broker.sh stop' EXIT; fi
"$VENV/bin/python" tests/bench/pipeline_bench.py --binary target/release/jumpcloud-ocsf --events "$EVENTS"
