#!/usr/bin/env python3
"""Pipeline benchmark: simulator -> `jumpcloud-ocsf backfill --since 31d` -> Kafka, for N events, with
events/s and the pipeline's peak RSS, next to a baseline measured in the same run: Python
confluent-kafka producing the pipeline's own mapped output, line by line, into the same broker with
the same producer settings. The baseline produces the same Kafka records as the pipeline: each OCSF
line to its class topic, with the same key and the same six headers. A second, simpler baseline
(one topic, no headers) is printed too, for reference.

On a shared 2-core machine one run's rate moves by 10 % or more from one minute to the next, for
the pipeline and the baseline alike. So the comparison is made in pairs: the simulator, its events
and the baseline's records are prepared once, then each pair runs the pipeline and the baseline
back to back (alternating which goes first, so a drift in the machine's speed favours neither),
each into a broker restarted empty, and the median of the pairs' ratios is the figure. Each
pipeline run also reports its CPU per event, by thread (read from /proc while it runs): a figure
that moves less than the rate does.

Usage: tests/bench/pipeline_bench.py --binary target/release/jumpcloud-ocsf --events 1000000 --pairs 5
Needs a broker at $KAFKA_BOOTSTRAP_SERVERS (scripts/bench.sh starts one) and confluent-kafka.
"""
import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
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


THREAD_GROUPS = (("tokio-rt-worker", "tokio workers"), ("rdk:broker", "librdkafka broker thread"),
                 ("producer pollin", "delivery reports"))


def thread_cpu(pid):
    """CPU seconds (user + system) of each thread of `pid`, by thread group name."""
    ticks = os.sysconf("SC_CLK_TCK")
    groups = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        name = next((label for prefix, label in THREAD_GROUPS if comm.startswith(prefix)), "other threads")
        groups[name] = groups.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return groups


def peak_rss_kib(pid):
    """The peak resident set (VmHWM) of `pid` since it exec'd, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def run_pipeline(binary, config):
    """Runs the pipeline; returns (seconds, peak RSS in KiB, CPU seconds, CPU seconds by thread
    group) of that process alone. Peak RSS (VmHWM, which only grows) and the per-thread figures
    are read every 0.2 s while it runs, so both miss at most its last 0.2 s; the CPU total comes
    from its rusage. (The child's `ru_maxrss` would count this interpreter's memory, forked
    before the exec.)"""
    start = time.perf_counter()
    proc = subprocess.Popen([binary, "backfill", "--since", "31d", "--config", config],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    last = {}
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.2):
            try:
                threads = thread_cpu(proc.pid)
                peak[0] = max(peak[0], peak_rss_kib(proc.pid))
            except (OSError, ValueError):
                return
            last.update(threads)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stderr = []
    reader = threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    reader.join()
    if status != 0:
        sys.exit("pipeline failed: " + "".join(stderr)[-2000:])
    return seconds, peak[0], usage.ru_utime + usage.ru_stime, last


CLASS_NAMES = {0: "base_event", 2004: "detection_finding", 3001: "account_change",
               3002: "authentication", 3004: "entity_management", 3005: "user_access",
               3006: "group_management"}


def baseline_records(binary, base_url, workdir):
    """Maps the simulator's events with the same binary (not timed): per OCSF line, its class
    topic suffix, key and the pipeline's six headers."""
    truth = os.path.join(workdir, "truth.ndjson")
    req = urllib.request.Request(base_url + "/__sim/events", headers={"x-api-key": API_KEY})
    with urllib.request.urlopen(req) as resp, open(truth, "wb") as out:
        while chunk := resp.read(1 << 20):
            out.write(chunk)
    mapped = subprocess.run([binary, "map", truth], capture_output=True, check=True).stdout
    lines = mapped.splitlines()
    classes, keys, headers = [], [], []
    for line in lines:
        event = json.loads(line)
        metadata = event["metadata"]
        key = (event.get("user") or {}).get("uid") or metadata.get("tenant_uid") or ""
        keys.append(key.encode())
        classes.append(CLASS_NAMES[event["class_uid"]])
        headers.append([
            ("ocsf_class_uid", str(event["class_uid"])), ("ocsf_version", "1.8.0"),
            ("event_code", metadata.get("event_code", "")),
            ("tenant_uid", metadata.get("tenant_uid", "")),
            ("original_event_uid", metadata.get("original_event_uid", "")),
            ("content-type", "application/json")])
    return lines, classes, keys, headers


def baseline(records, prefix, same_records):
    """Times confluent-kafka producing the mapped lines with the same keys and settings; with
    `same_records`, to the pipeline's class topics with its headers, else all to one topic
    without headers. Returns (records, seconds, CPU seconds of this process while producing:
    the interpreter and librdkafka's threads)."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    lines, classes, keys, class_headers = records
    if same_records:
        topics = [f"{prefix}.{name}" for name in classes]
        headers = class_headers
    else:
        topics = [f"{prefix}.all"] * len(lines)
        headers = [None] * len(lines)
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
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
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
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)
    if failures:
        sys.exit(f"baseline had {len(failures)} delivery failures, e.g. {failures[0]}")
    return len(lines), seconds, cpu


def pipeline_config(workdir, run, base_url, orgs, prefix):
    config = os.path.join(workdir, f"config-{run}.toml")
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
checkpoint_path = "{workdir}/checkpoints-{run}.json"
[kafka]
brokers = "{os.environ.get('KAFKA_BOOTSTRAP_SERVERS', '127.0.0.1:9092')}"
[kafka.topic]
template = "{prefix}.{{class_name}}"
dead_letter = "{prefix}.dead_letter"
""" + os.environ.get("BENCH_EXTRA_CONFIG", "").replace("\\n", "\n"))
    return config


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default="target/release/jumpcloud-ocsf")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--orgs", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=1,
                        help="pipeline/baseline pairs run back to back against the same simulator; "
                             "the median ratio is the result")
    parser.add_argument("--fresh-broker-cmd", default=None,
                        help="shell command that restarts the broker empty; run before each pipeline and "
                             "each baseline run, so that none of them produces into a broker already "
                             "holding another's million records (its memory storage slows as it fills)")
    args = parser.parse_args()

    def fresh_broker():
        if args.fresh_broker_cmd:
            subprocess.run(args.fresh_broker_cmd, shell=True, check=True, stdout=subprocess.DEVNULL)

    pairs = []
    sim, base_url = start_simulator(args.binary, args.events, args.orgs)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            orgs = ", ".join(f'"{o}"' for o in org_ids(base_url))
            records = baseline_records(args.binary, base_url, workdir)
            if len(records[0]) != args.events:
                sys.exit(f"the simulator holds {len(records[0])} events, not {args.events}")

            def pipeline_run(run):
                prefix = f"bench-{uuid.uuid4().hex[:8]}"
                config = pipeline_config(workdir, run, base_url, orgs, prefix)
                fresh_broker()
                seconds, rss_kib, cpu, threads = run_pipeline(args.binary, config)
                rate = args.events / seconds
                print(f"  pipeline: {rate:,.0f} events/s ({seconds:.1f} s), peak RSS "
                      f"{rss_kib / 1024:.1f} MiB, CPU {cpu / args.events * 1e6:.1f} us/event ("
                      + ", ".join(f"{name} {value / args.events * 1e6:.1f}" for name, value in sorted(threads.items()))
                      + ")", flush=True)
                return rate, rss_kib, cpu

            def baseline_run():
                fresh_broker()
                n, seconds, cpu = baseline(records, f"bench-{uuid.uuid4().hex[:8]}.baseline", True)
                print(f"  baseline: {n / seconds:,.0f} events/s ({seconds:.1f} s), "
                      f"CPU {cpu / n * 1e6:.1f} us/event", flush=True)
                return n / seconds

            for run in range(args.pairs):
                print(f"pair {run + 1} of {args.pairs}" + (" (baseline first)" if run % 2 else ""), flush=True)
                if run % 2:
                    base_rate = baseline_run()
                    pipe_rate, rss_kib, cpu = pipeline_run(run)
                else:
                    pipe_rate, rss_kib, cpu = pipeline_run(run)
                    base_rate = baseline_run()
                pairs.append((pipe_rate, base_rate, rss_kib, cpu))
                print(f"  ratio pipeline/baseline: {pipe_rate / base_rate:.2f}", flush=True)
            fresh_broker()
            n_simple, simple_seconds, _ = baseline(records, f"bench-{uuid.uuid4().hex[:8]}.simple", False)
    finally:
        sim.kill()
        sim.wait()

    ratios = sorted(p / b for p, b, _, _ in pairs)
    pipe_rates = [p for p, _, _, _ in pairs]
    base_rates = [b for _, b, _, _ in pairs]
    peak_rss = max(rss for _, _, rss, _ in pairs)
    cpu_us = [cpu / args.events * 1e6 for _, _, _, cpu in pairs]
    print(f"events: {args.events} in {args.orgs} organisations, {args.pairs} pair(s)")
    print(f"pipeline backfill (fetch over HTTP + map + produce + acks + checkpoints): "
          f"{min(pipe_rates):,.0f}-{max(pipe_rates):,.0f} events/s, peak RSS {peak_rss / 1024:.1f} MiB, "
          f"CPU {min(cpu_us):.1f}-{max(cpu_us):.1f} us/event")
    print(f"baseline (confluent-kafka produce of the same records): "
          f"{min(base_rates):,.0f}-{max(base_rates):,.0f} events/s")
    print(f"simpler baseline (same lines, one topic, no headers): {n_simple / simple_seconds:,.0f} events/s")
    print(f"ratio pipeline/baseline: {statistics.median(ratios):.2f} (median of {len(ratios)}; "
          f"min {ratios[0]:.2f}, max {ratios[-1]:.2f}; goal >= 0.8); "
          f"peak RSS goal < 64 MiB: {'met' if peak_rss < 64 * 1024 else 'NOT met'}")


if __name__ == "__main__":
    main()
