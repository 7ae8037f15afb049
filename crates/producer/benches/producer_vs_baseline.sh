#!/usr/bin/env bash
# Producer benchmark next to its baseline, same broker, same input, same settings:
#   crates/producer/benches/producer_vs_baseline.sh [EVENTS] [INPUT.ndjson]
# Prints events/s and peak RSS for OcsfProducer (JSON) and for Python confluent-kafka.
# The default input: the OCSF records the project maps from its own fixtures, written by
# `produce_bench --dump-input` to target/producer-bench-input.ndjson.
set -euo pipefail
cd "$(dirname "$0")/../../.."
EVENTS=${1:-200000}
INPUT=${2:-target/producer-bench-input.ndjson}
cargo build --release -q -p producer --example produce_bench
if [ -z "${2:-}" ]; then
    ./target/release/examples/produce_bench --dump-input "$INPUT"
fi
./target/release/examples/produce_bench --events "$EVENTS" --input "$INPUT" --prefix "bench-rust-$$"
python3 crates/producer/benches/baseline_confluent_kafka.py --events "$EVENTS" --input "$INPUT" --prefix "bench-py-$$"
