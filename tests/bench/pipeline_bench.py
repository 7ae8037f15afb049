#!/usr/bin/env python3
"""Pipeline benchmark: simulator -> `jumpcloud-ocsf backfill --since 31d` -> Kafka, for N events, with
events/s and the pipeline's peak RSS, next to a baseline measured in the same run: Python
confluent-kafka producing the pipeline's own mapped output, line by line, into the same broker with
the same producer settings. The baseline produces the same Kafka records as the pipeline: each OCSF
line to its class topic, with the same key and the same six headers. A second, simpler baseline
(one topic, no headers) is printed too, for reference.

Usage: tests/bench/pipeline_bench.py --binary target/release/jumpcloud-ocsf --events 1000000
Needs a broker at $KAFKA_BOOTSTRAP_SERVERS (scripts/bench.sh starts one) and confluent-kafka.
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

API_KEY = "bench-api-key"
# The producer settings of jumpcloud-ocsf's defaults (crates/producer/src/config.rs).
PRODUCER_SETTINGS = {
    "acks": "all",
    "enable.idempotence": "true",
    "compression.type": "zstd",
    "linger.ms": 5,
    "batch.num.messages": 10000,
    "batch.size": 1000000,
    "message.max.bytes": 1000000,
    "queue.buffering.max.messages": 10000,
    "queue.buffering.max.kbytes": 4096,
}


def start_simulator(binary, events, orgs):
    proc = subprocess.Popen(
        [binary, "simulate", "--listen", "127.0.0.1:0", "--api-key", API_KEY, "--seed", "2026",
         "--events", str(events), "--orgs", str(orgs), "--late-max-secs", "0", "--live-rate", "0",
         "--history-days", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 600
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return proc, match.group(1)
    proc.kill()
    sys.exit("simulator did not report its address")


def org_ids(base_url):
    req = urllib.request.Request(base_url + "/__sim/orgs", headers={"x-api-key": API_KEY})
    with urllib.request.urlopen(req) as resp:
        return [org["id"] for org in json.load(resp)]


def run_pipeline(binary, config):
    """Runs the pipeline; returns (seconds, peak RSS in KiB) of that process alone."""
    start = time.perf_counter()
    proc = subprocess.Popen([binary, "backfill", "--since", "31d", "--config", config],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        sys.exit("pipeline failed: " + proc.stderr.read()[-2000:])
    return seconds, usage.ru_maxrss


CLASS_NAMES = {0: "base_event", 3001: "account_change", 3002: "authentication",
               3004: "entity_management", 3005: "user_access", 3006: "group_management"}


def baseline(binary, base_url, prefix, workdir, same_records):
    """Maps the simulator's events with the same binary (not timed), then times confluent-kafka
    producing those OCSF lines with the same keys and settings; with `same_records`, to the
    pipeline's class topics with its headers, else all to one topic without headers."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    truth = os.path.join(workdir, "truth.ndjson")
    req = urllib.request.Request(base_url + "/__sim/events", headers={"x-api-key": API_KEY})
    with urllib.request.urlopen(req) as resp, open(truth, "wb") as out:
        while chunk := resp.read(1 << 20):
            out.write(chunk)
    mapped = subprocess.run([binary, "map", truth], capture_output=True, check=True).stdout
    lines = mapped.splitlines()
    keys, topics, headers = [], [], []
    for line in lines:
        event = json.loads(line)
        metadata = event["metadata"]
        key = (event.get("user") or {}).get("uid") or metadata.get("tenant_uid") or ""
        keys.append(key.encode())
        if same_records:
            topics.append(f"{prefix}.{CLASS_NAMES[event['class_uid']]}")
            headers.append([
                ("ocsf_class_uid", str(event["class_uid"])), ("ocsf_version", "1.8.0"),
                ("event_code", metadata.get("event_code", "")),
                ("tenant_uid", metadata.get("tenant_uid", "")),
                ("original_event_uid", metadata.get("original_event_uid", "")),
                ("content-type", "application/json")])
        else:
            topics.append(f"{prefix}.all")
            headers.append(None)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new_topics = [NewTopic(t, num_partitions=3, replication_factor=1) for t in sorted(set(topics))]
    for future in admin.create_topics(new_topics).values():
        future.result(30)
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_SETTINGS})
    failures = []

    def on_delivery(err, _msg):
        if err is not None:
            failures.append(err)

    start = time.perf_counter()
    for topic, key, line, record_headers in zip(topics, keys, lines, headers):
        while True:
            try:
                producer.produce(topic, value=line, key=key, headers=record_headers,
                                 on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(120)
    seconds = time.perf_counter() - start
    if failures:
        sys.exit(f"baseline had {len(failures)} delivery failures, e.g. {failures[0]}")
    return len(lines), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default="target/release/jumpcloud-ocsf")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--orgs", type=int, default=3)
    parser.add_argument("--fresh-broker-cmd", default=None,
                        help="shell command that restarts the broker empty; run before the pipeline and "
                             "before each baseline, so that none of them produces into a broker already "
                             "holding another's million records (its memory storage slows as it fills)")
    args = parser.parse_args()

    def fresh_broker():
        if args.fresh_broker_cmd:
            subprocess.run(args.fresh_broker_cmd, shell=True, check=True, stdout=subprocess.DEVNULL)

    sim, base_url = start_simulator(args.binary, args.events, args.orgs)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            prefix = "bench-" + uuid.uuid4().hex[:8]
            orgs = ", ".join(f'"{o}"' for o in org_ids(base_url))
            config = os.path.join(workdir, "config.toml")
            with open(config, "w") as f:
                f.write(f"""
[jumpcloud]
base_url = "{base_url}"
org_ids = [{orgs}]
max_requests_per_sec = 1000
[jumpcloud.auth]
type = "api_key"
api_key = "{API_KEY}"
[events]
lag = "0s"
overlap = "1m"
initial_lookback = "31d"
checkpoint_path = "{workdir}/checkpoints.json"
[kafka]
brokers = "{os.environ.get('KAFKA_BOOTSTRAP_SERVERS', '127.0.0.1:9092')}"
[kafka.topic]
template = "{prefix}.{{class_name}}"
dead_letter = "{prefix}.dead_letter"
""" + os.environ.get("BENCH_EXTRA_CONFIG", "").replace("\\n", "\n"))
            fresh_broker()
            pipe_seconds, rss_kib = run_pipeline(args.binary, config)
            print(f"pipeline: {args.events} events in {pipe_seconds:.1f} s, peak RSS {rss_kib / 1024:.1f} MiB", flush=True)
            fresh_broker()
            n, base_seconds = baseline(args.binary, base_url, prefix + ".baseline", workdir, True)
            fresh_broker()
            n_simple, simple_seconds = baseline(args.binary, base_url, prefix + ".simple", workdir, False)
    finally:
        sim.kill()
        sim.wait()

    pipe_rate = args.events / pipe_seconds
    base_rate = n / base_seconds
    print(f"events: {args.events} in {args.orgs} organisations (baseline produced {n})")
    print(f"pipeline backfill (fetch over HTTP + map + produce + acks + checkpoints): {pipe_seconds:.1f} s, "
          f"{pipe_rate:,.0f} events/s, peak RSS {rss_kib / 1024:.1f} MiB")
    print(f"baseline (confluent-kafka produce of the same records):        {base_seconds:.1f} s, "
          f"{base_rate:,.0f} events/s")
    print(f"simpler baseline (same lines, one topic, no headers):          {simple_seconds:.1f} s, "
          f"{n_simple / simple_seconds:,.0f} events/s (ratio {pipe_rate / (n_simple / simple_seconds):.2f})")
    print(f"ratio pipeline/baseline: {pipe_rate / base_rate:.2f} (goal >= 0.8); "
          f"peak RSS goal < 64 MiB: {'met' if rss_kib < 64 * 1024 else 'NOT met'}")


if __name__ == "__main__":
    main()
