#!/usr/bin/env bash
# Producer benchmark next to its baseline, same broker, same input, same settings:
#   crates/producer/benches/producer_vs_baseline.sh [EVENTS] [INPUT.ndjson]
# Prints events/s and peak RSS for OcsfProducer (JSON) and for Python confluent-kafka.
set -euo pipefail
cd "$(dirname "$0")/../../.."
EVENTS=${1:-200000}
INPUT=${2:-../shared/ocsf/examples/valid.ndjson}
cargo build --release -q -p producer --example produce_bench
./target/release/examples/produce_bench --events "$EVENTS" --input "$INPUT" --prefix "bench-rust-$$"
python3 crates/producer/benches/baseline_confluent_kafka.py --events "$EVENTS" --input "$INPUT" --prefix "bench-py-$$"
