#!/usr/bin/env bash
# scripts/bench.sh [EVENTS] [PAIRS]: the pipeline benchmark (not a test), in both delivery modes.
# Builds the release binary, starts Apache Kafka (scripts/kafka-broker.sh start broker; a broker
# already answering on its port is reused) and the Python venv like scripts/test.sh, then runs
# tests/bench/pipeline_bench.py: one simulator with EVENTS events (default 1,000,000) in three
# organisations, then PAIRS rounds (default 5), back to back. Each round runs the pipeline
# (simulator -> backfill -> broker) with `[kafka] delivery = "exactly-once"` and with
# "at-least-once", each next to a confluent-kafka baseline producing the same records
# (transactional, 10,000 records and one state record per transaction, like the pipeline's units;
# plain idempotent for at-least-once), every other round in the reverse order. It prints each
# run's events/s, the pipeline's CPU per event by thread and peak RSS, and at the end, per mode,
# the medians of the pipeline/baseline ratios and of the exactly-once/at-least-once ratio.
# Each run has its own topics, deployment_id and state_topic; the benchmark deletes its topics
# at the end. The broker keeps its data otherwise (it is not restarted between runs).
# Experiments: BENCH_PIPELINE_EXTRA adds lines to the pipeline's `[pipeline]` table (e.g.
# "max_in_flight_events = 3000"), BENCH_EXTRA_CONFIG appends TOML after the configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-1000000}
PAIRS=${2:-5}
. scripts/venv.sh
cargo build --release --locked -p jumpcloud-ocsf
exports=$(KAFKA_FRESH_DATA=1 scripts/kafka-broker.sh start broker) || { echo "Kafka did not start" >&2; exit 1; }
eval "$exports"
trap 'if [ "${KAFKA_BROKER_STARTED_BY_US:-0}" = 1 ]; then scripts/kafka-broker.sh stop broker; fi' EXIT
"$VENV/bin/python" tests/bench/pipeline_bench.py --binary target/release/jumpcloud-ocsf \
  --events "$EVENTS" --pairs "$PAIRS"
