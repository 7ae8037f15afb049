#!/usr/bin/env bash
# scripts/test.sh: the one test command (README, CI). On a fresh machine it installs and starts
# everything the tests need, runs every check, and stops what it started:
#   1. a Python venv with the test packages (tests/requirements.txt), cached
#   2. cargo-audit and cargo-machete (pinned), cached
#   3. Apache Kafka (KRaft, one node) and Apicurio Registry (scripts/kafka-broker.sh: jars from
#      Maven Central, cached; reuses a broker or registry already answering on its port), and
#      their secured twins (`start secure`: SASL_SSL + ACLs, HTTPS + basic auth; certificates
#      and passwords made once per machine) for the least-privilege tests
#   4. cargo fmt --check, cargo clippy -D warnings, cargo machete (unused dependencies),
#      cargo audit (vendored advisory DB, offline); a check whose tool is missing or cannot be
#      installed is skipped with a line saying so
#   5. cargo test for the whole workspace (simulator over real HTTP, real broker and registry):
#      the test binaries built once, then run two side by side (scripts/run-tests.py, TEST_JOBS)
#   6. with --long, then the long suite: the tests marked #[ignore = "long suite ..."] (broker
#      outages of 10 minutes, in both delivery modes), about 12 more minutes; CI (.ci/run) runs it
# Caches live in $JUMPCLOUD_OCSF_CACHE (default ~/.cache/jumpcloud-ocsf), outside the work tree.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LONG=0
for arg in "$@"; do
  case "$arg" in
    --long) LONG=1 ;;
    *) echo "usage: scripts/test.sh [--long]" >&2; exit 2 ;;
  esac
done

CACHE=${JUMPCLOUD_OCSF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jumpcloud-ocsf}
export JUMPCLOUD_OCSF_CACHE=$CACHE
CARGO_AUDIT_VERSION=0.22.2
CARGO_MACHETE_VERSION=0.9.2
mkdir -p "$CACHE"
t_start=$SECONDS
step() { printf '\n==> [%4ds] %s\n' "$((SECONDS - t_start))" "$*" >&2; }

# Disk: a CI machine may have only a few GB free. Incremental caches are no use on a one-shot
# build, so CI skips them (about 1 GB); the dev profile already keeps debug info to line tables.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi
step "free disk: $(df -h . | awk 'NR==2 {print $4}') (target/ after the build: about 2.5 GB)"

step "Python test packages (venv in $CACHE/venv)"
. scripts/venv.sh
export PATH="$VENV/bin:$PATH"   # tests call `python3`: this one has fastavro and confluent-kafka

step "cargo-audit $CARGO_AUDIT_VERSION"
AUDIT_BIN="$CACHE/cargo-audit-$CARGO_AUDIT_VERSION/bin/cargo-audit"
if [ ! -x "$AUDIT_BIN" ]; then
  # --debug: an unoptimised build takes a fraction of the time of a release one on 2 cores,
  # and checking a lock file against the advisory database takes a second either way.
  cargo install cargo-audit --version "$CARGO_AUDIT_VERSION" --locked --debug \
    --root "$CACHE/cargo-audit-$CARGO_AUDIT_VERSION"
fi

step "cargo-machete $CARGO_MACHETE_VERSION"
MACHETE_BIN="$CACHE/cargo-machete-$CARGO_MACHETE_VERSION/bin/cargo-machete"
if [ ! -x "$MACHETE_BIN" ]; then
  # --debug as for cargo-audit. Optional: without it the unused-dependency check is skipped.
  cargo install cargo-machete --version "$CARGO_MACHETE_VERSION" --locked --debug \
    --root "$CACHE/cargo-machete-$CARGO_MACHETE_VERSION" || true
fi

step "Apache Kafka and the schema registry"
STARTED=()   # what this run started, stopped at exit (services already answering are reused)
stop_started() { local what; for what in "${STARTED[@]}"; do scripts/kafka-broker.sh stop "$what"; done; }
trap stop_started EXIT
# A broker this run starts begins with an empty log directory (KAFKA_FRESH_DATA): the topics of
# earlier runs would only slow its start-up. A broker already answering is reused as it is.
exports=$(KAFKA_FRESH_DATA=1 scripts/kafka-broker.sh start) || { echo "Kafka or the registry did not start" >&2; exit 1; }
eval "$exports"
if [ "${KAFKA_BROKER_STARTED_BY_US:-0}" = 1 ]; then STARTED+=(all); fi
echo "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS SCHEMA_REGISTRY_URL=$SCHEMA_REGISTRY_URL" >&2
export KAFKA_BOOTSTRAP_SERVERS SCHEMA_REGISTRY_URL

step "the secured broker and the TLS registry (SASL_SSL, SCRAM, ACLs; basic auth)"
exports=$(scripts/kafka-broker.sh start secure) || { echo "the secured broker or the TLS registry did not start" >&2; exit 1; }
eval "$exports"
if [ "${KAFKA_SECURE_STARTED_BY_US:-0}" = 1 ]; then STARTED+=(secure); fi
echo "KAFKA_SECURE_BOOTSTRAP_SERVERS=$KAFKA_SECURE_BOOTSTRAP_SERVERS SCHEMA_REGISTRY_TLS_URL=$SCHEMA_REGISTRY_TLS_URL" >&2

if cargo fmt --version >/dev/null 2>&1; then
  step "cargo fmt --check"
  cargo fmt --all -- --check
else
  step "SKIPPED cargo fmt --check: rustfmt is not installed for this toolchain"
fi

if cargo clippy --version >/dev/null 2>&1; then
  step "cargo clippy --all-targets -D warnings"
  cargo clippy --workspace --all-targets --locked -- -D warnings
else
  step "SKIPPED cargo clippy: clippy is not installed for this toolchain"
fi

if [ -x "$MACHETE_BIN" ]; then
  step "cargo machete (unused dependencies)"
  "$MACHETE_BIN" --skip-target-dir
else
  step "SKIPPED cargo machete: cargo-machete $CARGO_MACHETE_VERSION could not be installed"
fi

step "cargo audit (offline advisory DB: vendor/advisory-db)"
"$AUDIT_BIN" audit --db "$ROOT/vendor/advisory-db" --no-fetch -D warnings

# The test binaries run side by side (scripts/run-tests.py: TEST_JOBS at a time, default 2,
# longest first), each in its package's directory as `cargo test` runs them; then the doctests.
step "cargo test: build the test binaries"
TESTS_JSON=target/test-binaries.json
mkdir -p target
cargo test --workspace --locked --no-run --message-format=json-render-diagnostics >"$TESTS_JSON"
step "cargo test: the test binaries, ${TEST_JOBS:-2} side by side"
python3 scripts/run-tests.py <"$TESTS_JSON"
step "cargo test --doc"
cargo test --workspace --locked --doc

if [ "$LONG" = 1 ]; then
  step "the long suite (the test binaries with --ignored)"
  python3 scripts/run-tests.py -- --ignored <"$TESTS_JSON"
fi

step "target/ holds $(du -sh target 2>/dev/null | cut -f1); $(df -h . | awk 'NR==2 {print $4}') free"
step "all checks passed in $((SECONDS - t_start)) s"
