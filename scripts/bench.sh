#!/usr/bin/env bash
# scripts/bench.sh [EVENTS] [ROUNDS]: the pipeline benchmark (not a test). Builds the release
# binary, starts the broker (scripts/kafka-broker.sh) and the Python venv like scripts/test.sh,
# then runs tests/bench/pipeline_bench.py ROUNDS times (default 1): simulator -> pipeline ->
# broker for EVENTS events (default 1,000,000), printing events/s and peak RSS next to a
# confluent-kafka baseline. When this script started the broker, it is restarted empty before the
# pipeline and before each baseline, so that each produces into the same empty broker (its memory
# storage slows as it fills: about 2 % per million records held). On this 2-core machine one
# round's ratio moves by ±0.1, so with several rounds the median ratio is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-1000000}
ROUNDS=${2:-1}
CACHE=${JUMPCLOUD_OCSF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jumpcloud-ocsf}
VENV="$CACHE/venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet -r tests/requirements.txt
fi
cargo build --release --locked -p jumpcloud-ocsf
eval "$(scripts/kafka-broker.sh start)"
ratios=()
round_log=$(mktemp)
trap 'rm -f "$round_log"; if [ "${KAFKA_BROKER_STARTED_BY_US:-0}" = 1 ]; then scripts/kafka-broker.sh stop; fi' EXIT
for round in $(seq 1 "$ROUNDS"); do
  if [ "$ROUNDS" -gt 1 ]; then
    echo "== round $round of $ROUNDS"
  fi
  fresh=()
  if [ "${KAFKA_BROKER_STARTED_BY_US:-0}" = 1 ]; then
    fresh=(--fresh-broker-cmd "scripts/kafka-broker.sh stop && scripts/kafka-broker.sh start")
  fi
  "$VENV/bin/python" tests/bench/pipeline_bench.py --binary target/release/jumpcloud-ocsf \
    --events "$EVENTS" "${fresh[@]}" | tee "$round_log"
  ratios+=("$(sed -n 's/^ratio pipeline\/baseline: \([0-9.]*\).*/\1/p' "$round_log")")
done
if [ "$ROUNDS" -gt 1 ]; then
  printf '%s\n' "${ratios[@]}" | sort -n | awk '{r[NR]=$1} END {
    m = (NR % 2) ? r[(NR+1)/2] : (r[NR/2] + r[NR/2+1]) / 2
    printf "ratio pipeline/baseline over %d rounds: median %.2f (min %.2f, max %.2f; goal >= 0.8)\n", NR, m, r[1], r[NR]}'
fi
