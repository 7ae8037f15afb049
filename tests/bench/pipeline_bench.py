#!/usr/bin/env python3
"""Pipeline benchmark in both delivery modes, each next to a confluent-kafka baseline measured in
the same run.

The pipeline: simulator -> `jumpcloud-ocsf backfill --since 31d` -> Kafka, for N events in three
organisations, once with `[pipeline] delivery = "exactly-once"` (each unit of up to
`[pipeline] unit_max_events` events is one Kafka transaction holding its records and a state
record per source) and once with `delivery = "at-least-once"` (records acknowledged first, then
the state records written). Every run has its own topics, `deployment_id` and `state_topic`, so
no run resumes another's cursors. Each run reports events/s, the pipeline process's CPU per event
by thread (read from /proc while it runs) and its peak RSS (VmHWM).

The baselines: Python confluent-kafka producing the same Kafka records as the pipeline (each line
of the pipeline's own mapping of the simulator's events, `jumpcloud-ocsf map`, to its class topic
with the same key and six headers) with the same producer settings. Exactly-once: a
transactional producer (`transactional.id`, `init_transactions`), one transaction per
UNIT_MAX_EVENTS records, each also holding one small state record in a compacted state topic.
At-least-once: a plain idempotent producer. A baseline's timing starts once its producer is ready
(connected, with its producer id); the pipeline's covers its whole process, start-up included (each
run says how much of it went to connecting and reading the state topic). A simpler baseline (one
topic, no headers, idempotent) is printed once, for reference.

On a shared 2-core machine one run's rate moves by 10 % or more from one minute to the next. So
the simulator and the baseline's records are prepared once, then each round runs four timed runs
back to back: baseline and pipeline in exactly-once mode, then pipeline and baseline in
at-least-once mode, every other round in the reverse order (so a drift in the machine's speed
favours no side and no mode). The figures are the medians over the rounds of each round's ratios:
pipeline/baseline per mode, and exactly-once/at-least-once. Before the first round the baseline
sends the first 50,000 records once in each mode, untimed, so that the broker's code is warm
(compiled by its JIT) for every timed run.

The broker keeps what earlier runs wrote (Apache Kafka appends to log segments, whose cost does not
grow with what the broker holds); the topics this benchmark created are deleted at the end.

Usage: tests/bench/pipeline_bench.py --binary target/release/jumpcloud-ocsf --events 1000000 --pairs 5
Needs a broker at $KAFKA_BOOTSTRAP_SERVERS (scripts/bench.sh starts one) and confluent-kafka.
"""
import argparse
import functools
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
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
EXACTLY_ONCE, AT_LEAST_ONCE = "exactly-once", "at-least-once"
MODES = (EXACTLY_ONCE, AT_LEAST_ONCE)
# Events per unit (one transaction in exactly-once mode): the pipeline's default, written into
# its configuration and used by the transactional baseline.
UNIT_MAX_EVENTS = 10_000
# jumpcloud-ocsf's producer settings (crates/producer/src/config.rs: defaults and fixed properties).
PRODUCER_SETTINGS = {
    "acks": "all",
    "enable.idempotence": "true",
    "max.in.flight.requests.per.connection": 5,
    "compression.type": "zstd",
    "linger.ms": 5,
    "batch.num.messages": 10000,
    "batch.size": 1000000,
    "message.max.bytes": 1000000,
    "queue.buffering.max.messages": 10000,
    "queue.buffering.max.kbytes": 4096,
    "message.timeout.ms": 300000,
}
# What the producer adds with a transactional id (TRANSACTION_TIMEOUT_MS, and a record's delivery
# timeout within the transaction's).
TRANSACTION_SETTINGS = {"transaction.timeout.ms": 60000, "message.timeout.ms": 60000}
# OCSF class_uid -> schema name (the `{class_name}` of the pipeline's topic template), from the
# vendored OCSF schema.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "crates",
                       "ocsf-schema", "schema", "ocsf-1.8.0.json")) as schema_file:
    CLASS_NAMES = {c["uid"]: c["name"] for c in json.load(schema_file)["classes"].values()}
THREAD_GROUPS = (("tokio-rt-worker", "tokio workers"), ("rdk:broker", "librdkafka broker thread"),
                 ("producer pollin", "delivery reports"))


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


def simulator_get(base_url, path):
    return urllib.request.urlopen(urllib.request.Request(base_url + path, headers={"x-api-key": API_KEY}))


def org_ids(base_url):
    with simulator_get(base_url, "/__sim/orgs") as resp:
        return [org["id"] for org in json.load(resp)]


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


def run_pipeline(binary, config, events):
    """Runs the backfill; returns, for that process alone: seconds in all, seconds until it had
    connected to Kafka and read the cursors, peak RSS in KiB, CPU seconds, CPU seconds by thread
    group. Peak RSS (VmHWM, which only grows) and the per-thread figures are read every 0.2 s
    while it runs, so both miss at most its last 0.2 s; the CPU total comes from its rusage. (The
    child's `ru_maxrss` would count this interpreter's memory, forked before the exec.) Exits
    unless the backfill delivered all `events`."""
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
    connected = [None]

    def read_stderr():
        for line in proc.stderr:
            if connected[0] is None and line.startswith("backfilling "):
                connected[0] = time.perf_counter() - start
            stderr.append(line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    reader.join()
    log = "".join(stderr)
    if status != 0:
        sys.exit("pipeline failed: " + log[-2000:])
    done = re.search(r"backfill done: (\d+) fetched = (\d+) delivered \+ (\d+) dead letters", log)
    if not done or int(done.group(2)) != events:
        sys.exit(f"the pipeline did not deliver {events} events: " + log[-2000:])
    return seconds, connected[0], peak[0], usage.ru_utime + usage.ru_stime, last


def baseline_records(binary, base_url, workdir):
    """Maps the simulator's events with the same binary (not timed): per OCSF line, its class
    topic suffix, key (the pipeline's `key = "user"`) and the pipeline's six headers."""
    truth = os.path.join(workdir, "truth.ndjson")
    with simulator_get(base_url, "/__sim/events") as resp, open(truth, "wb") as out:
        while chunk := resp.read(1 << 20):
            out.write(chunk)
    lines = subprocess.run([binary, "map", truth], capture_output=True, check=True).stdout.splitlines()
    classes, keys, headers = [], [], []
    for line in lines:
        event = json.loads(line)
        metadata = event["metadata"]
        key = (event.get("user") or {}).get("uid") or metadata.get("tenant_uid") or metadata["uid"]
        keys.append(key.encode())
        classes.append(CLASS_NAMES[event["class_uid"]])
        headers.append([
            ("ocsf_class_uid", str(event["class_uid"])), ("ocsf_version", "1.8.0"),
            ("event_code", metadata.get("event_code", "")),
            ("tenant_uid", metadata.get("tenant_uid", "")),
            ("original_event_uid", metadata.get("original_event_uid", "")),
            ("content-type", "application/json")])
    return lines, classes, keys, headers


@functools.cache
def admin_client():
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": BOOTSTRAP})


def create_topics(names, partitions, config=None):
    from confluent_kafka.admin import NewTopic
    admin = admin_client()
    new_topics = [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})
                  for name in sorted(set(names))]
    for future in admin.create_topics(new_topics).values():
        future.result(30)


def delete_topics(prefix):
    """Deletes every topic whose name starts with `prefix` (this benchmark's own)."""
    admin = admin_client()
    names = [name for name in admin.list_topics(timeout=30).topics if name.startswith(prefix)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=60).values():
            future.result(60)
    return len(names)


def baseline(records, prefix, mode, same_records=True, limit=None):
    """Times confluent-kafka producing the mapped lines (the first `limit` of them, or all) with
    the pipeline's keys and producer settings; with `same_records`, to the pipeline's class
    topics with its headers, else all to one topic without headers. Exactly-once: one
    transaction per UNIT_MAX_EVENTS records plus one state record; at-least-once: plain
    idempotent. Returns (records, seconds, CPU seconds of this process while producing: the
    interpreter and librdkafka's threads), both from the moment the producer is ready to send to
    the last record's acknowledgement (or the last commit)."""
    from confluent_kafka import Producer
    lines, classes, keys, class_headers = (column[:limit] for column in records)
    if same_records:
        topics = [f"{prefix}.{name}" for name in classes]
        headers = class_headers
    else:
        topics = [f"{prefix}.all"] * len(lines)
        headers = [None] * len(lines)
    create_topics(topics, 3)
    settings = {"bootstrap.servers": BOOTSTRAP, **PRODUCER_SETTINGS}
    transactional = mode == EXACTLY_ONCE
    state_topic = f"{prefix}.state"
    if transactional:
        create_topics([state_topic], 1, {"cleanup.policy": "compact"})
        settings.update(TRANSACTION_SETTINGS)
        settings["transactional.id"] = prefix
    producer = Producer(settings)
    # The timing starts once the producer has its producer id and a connection to the broker:
    # `init_transactions` waits for both; an idempotent producer gets them with its first record
    # (about 0.5 s here), so it sends one to a topic of its own first.
    if transactional:
        producer.init_transactions(30)
    else:
        create_topics([f"{prefix}.ready"], 1)
        producer.produce(f"{prefix}.ready", value=b"ready")
        if producer.flush(30):
            sys.exit("the baseline's producer did not connect to the broker")
    failures = []

    def on_delivery(err, _msg):
        if err is not None:
            failures.append(err)

    def produce(topic, value, key, record_headers):
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=record_headers, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)

    unit = UNIT_MAX_EVENTS if transactional else max(1, len(lines))
    start = time.perf_counter()
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    for first in range(0, len(lines), unit):
        if transactional:
            producer.begin_transaction()
        last = min(first + unit, len(lines))
        for i in range(first, last):
            produce(topics[i], lines[i], keys[i], headers[i])
        if transactional:
            # A cursor of the size the pipeline writes (a checkpoint without acknowledged events).
            now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            state = json.dumps({"cursor": now, "acked": [], "updated_at": now}).encode()
            produce(state_topic, state, b"cursor", None)
            producer.commit_transaction(120)
    if producer.flush(120):
        sys.exit("the baseline's records were not all acknowledged within 120 s")
    seconds = time.perf_counter() - start
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)
    if failures:
        sys.exit(f"baseline had {len(failures)} delivery failures, e.g. {failures[0]}")
    return len(lines), seconds, cpu


def pipeline_config(workdir, base_url, orgs, prefix, mode):
    """A backfill configuration producing to topics named after `prefix`, with `prefix` as its
    deployment id and `prefix.state` as its state topic."""
    config = os.path.join(workdir, f"{prefix}.toml")
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
checkpoint_path = "{workdir}/{prefix}.checkpoints.json"
[pipeline]
unit_max_events = {UNIT_MAX_EVENTS}
delivery = "{mode}"
{os.environ.get("BENCH_PIPELINE_EXTRA", "")}
[kafka]
brokers = "{BOOTSTRAP}"
deployment_id = "{prefix}"
state_topic = "{prefix}.state"
[kafka.topic]
template = "{prefix}.{{class_name}}"
dead_letter = "{prefix}.dead_letter"
""" + os.environ.get("BENCH_EXTRA_CONFIG", "").replace("\\n", "\n"))
    return config


def spread(values, fmt="{:,.0f}"):
    """`median (min-max)` of `values`."""
    return (fmt.format(statistics.median(values)) + " (" + fmt.format(min(values)) + "-"
            + fmt.format(max(values)) + ")")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default="target/release/jumpcloud-ocsf")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--orgs", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=1,
                        help="rounds, each a pipeline/baseline pair per delivery mode, run back to back "
                             "against the same simulator; the medians of their ratios are the result")
    args = parser.parse_args()

    bench_id = f"bench-{uuid.uuid4().hex[:8]}"
    pipeline_runs = {mode: [] for mode in MODES}   # (events/s, peak RSS KiB, CPU s) per round
    baseline_runs = {mode: [] for mode in MODES}   # (events/s, CPU s) per round
    sim, base_url = start_simulator(args.binary, args.events, args.orgs)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            orgs = ", ".join(f'"{o}"' for o in org_ids(base_url))
            records = baseline_records(args.binary, base_url, workdir)
            if len(records[0]) != args.events:
                sys.exit(f"the simulator holds {len(records[0])} events, not {args.events}")

            def pipeline_run(run, mode):
                prefix = f"{bench_id}-{run}-pipeline-{mode}"
                config = pipeline_config(workdir, base_url, orgs, prefix, mode)
                seconds, connect, rss_kib, cpu, threads = run_pipeline(args.binary, config, args.events)
                rate = args.events / seconds
                print(f"  pipeline {mode}: {rate:,.0f} events/s ({seconds:.1f} s, {connect:.1f} s of it "
                      f"connecting and reading the state topic), peak RSS "
                      f"{rss_kib / 1024:.1f} MiB, CPU {cpu / args.events * 1e6:.1f} us/event ("
                      + ", ".join(f"{name} {value / args.events * 1e6:.1f}" for name, value in sorted(threads.items()))
                      + ")", flush=True)
                pipeline_runs[mode].append((rate, rss_kib, cpu))

            def baseline_run(run, mode):
                n, seconds, cpu = baseline(records, f"{bench_id}-{run}-baseline-{mode}", mode)
                what = "transactional" if mode == EXACTLY_ONCE else "idempotent"
                print(f"  baseline {mode} ({what}): {n / seconds:,.0f} events/s ({seconds:.1f} s), "
                      f"CPU {cpu / n * 1e6:.1f} us/event", flush=True)
                baseline_runs[mode].append((n / seconds, cpu))

            warm_up = min(args.events, 5 * UNIT_MAX_EVENTS)
            for mode in MODES:
                baseline(records, f"{bench_id}-warm-up-{mode}", mode, limit=warm_up)
            round_order = ((baseline_run, EXACTLY_ONCE), (pipeline_run, EXACTLY_ONCE),
                           (pipeline_run, AT_LEAST_ONCE), (baseline_run, AT_LEAST_ONCE))
            for run in range(args.pairs):
                order = round_order if run % 2 == 0 else round_order[::-1]
                print(f"round {run + 1} of {args.pairs}: "
                      + ", ".join(f"{'pipeline' if side is pipeline_run else 'baseline'} {mode}" for side, mode in order),
                      flush=True)
                for side, mode in order:
                    side(run, mode)
                for mode in MODES:
                    print(f"  ratio pipeline/baseline, {mode}: "
                          f"{pipeline_runs[mode][-1][0] / baseline_runs[mode][-1][0]:.2f}", flush=True)
                print(f"  ratio exactly-once/at-least-once, pipeline: "
                      f"{pipeline_runs[EXACTLY_ONCE][-1][0] / pipeline_runs[AT_LEAST_ONCE][-1][0]:.2f}", flush=True)
            n_simple, simple_seconds, _ = baseline(records, f"{bench_id}-simple", AT_LEAST_ONCE, same_records=False)
    finally:
        sim.kill()
        sim.wait()
        try:
            deleted = delete_topics(bench_id)
            print(f"deleted this benchmark's {deleted} topics", file=sys.stderr)
        except Exception as err:  # cleaning up must not hide the figures or the error above
            print(f"could not delete the topics starting with {bench_id}: {err}", file=sys.stderr)

    n = args.events
    print(f"\nevents: {n} in {args.orgs} organisations, {args.pairs} round(s); units (transactions) of "
          f"{UNIT_MAX_EVENTS:,} events; figures: median (min-max)")
    rates = {}
    for mode in MODES:
        pipe_rates = [rate for rate, _, _ in pipeline_runs[mode]]
        base_rates = [rate for rate, _ in baseline_runs[mode]]
        rates[mode] = pipe_rates
        peak_rss = max(rss for _, rss, _ in pipeline_runs[mode])
        what = "transactional" if mode == EXACTLY_ONCE else "idempotent"
        print(f"{mode}:")
        print(f"  pipeline backfill (fetch over HTTP + map + produce + acks + cursors): "
              f"{spread(pipe_rates)} events/s, CPU {spread([cpu / n * 1e6 for _, _, cpu in pipeline_runs[mode]], '{:.1f}')}"
              f" us/event, peak RSS {peak_rss / 1024:.1f} MiB (max)")
        print(f"  baseline (confluent-kafka, {what}, the same records): {spread(base_rates)} events/s, "
              f"CPU {spread([cpu / n * 1e6 for _, cpu in baseline_runs[mode]], '{:.1f}')} us/event")
        print(f"  ratio pipeline/baseline: {spread([p / b for p, b in zip(pipe_rates, base_rates)], '{:.2f}')}"
              f" (goal >= 0.8)")
    base_eo = [rate for rate, _ in baseline_runs[EXACTLY_ONCE]]
    base_alo = [rate for rate, _ in baseline_runs[AT_LEAST_ONCE]]
    print(f"ratio exactly-once/at-least-once, pipeline: "
          f"{spread([e / a for e, a in zip(rates[EXACTLY_ONCE], rates[AT_LEAST_ONCE])], '{:.2f}')} (goal >= 0.9); "
          f"baseline: {spread([e / a for e, a in zip(base_eo, base_alo)], '{:.2f}')}")
    print(f"simpler baseline (same lines, one topic, no headers, idempotent): {n_simple / simple_seconds:,.0f} events/s")
    peak_rss = max(rss for mode in MODES for _, rss, _ in pipeline_runs[mode])
    print(f"peak RSS goal < 64 MiB: {'met' if peak_rss < 64 * 1024 else 'NOT met'} ({peak_rss / 1024:.1f} MiB)")


if __name__ == "__main__":
    main()
