#!/usr/bin/env python3
"""MSP benchmark: one `jumpcloud-ocsf run` serving 1,000 organisations of one provider.

The simulator (`jumpcloud-ocsf simulate`) holds ORGS organisations of one provider with EVENTS
events over the past 7 days, late arrival on (each event visible U(0, 90 s) after its time) and
live events (5/s over all organisations; `--live-rate`). `run` discovers the organisations
(`org_ids = "all"`), starts each from `initial_lookback = "8d"` (so every event of the history is
expected), polls with `lag = "30s"`, `poll_interval = "30s"` and the default request cap
(10 requests/s), in exactly-once mode, for SECONDS seconds, then gets SIGTERM.

While it runs, `/metrics` is scraped every 2 s: `jumpcloud_ocsf_data_lag_seconds` of every
organisation (now minus the end of its last completed window, computed when scraped) and the
count of organisations without a completed window. "Caught up" starts at the first scrape where
every organisation has completed a window, plus one poll interval; the data lag figures are over
every (organisation, scrape) after it, against the goal lag + poll_interval + 30 s = 90 s.
Peak RSS is the process's VmHWM, CPU seconds its rusage.

Afterwards the output topics are read with a read_committed consumer. Each organisation's final
cursor comes from the state topic (key `events/<org>`): every simulator event older than that
cursor minus the late-arrival maximum (90 s) must be there exactly once; events in the last 90 s
before the cursor may still have been invisible at the last poll (the next window's overlap
fetches them) and are counted apart.

Usage: tests/bench/msp_bench.py --binary target/release/jumpcloud-ocsf [--orgs 1000]
       [--events 100000] [--seconds 240]
Needs a broker at $KAFKA_BOOTSTRAP_SERVERS and confluent-kafka (scripts/bench-msp.sh).
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

API_KEY = "bench-msp-key"
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
LAG, POLL, LATE_MAX = 30, 30, 90
GOAL = LAG + POLL + 30
# Every OCSF class the pipeline writes (the topic template's `{class_name}`), from the vendored
# OCSF schema.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "crates",
                       "ocsf-schema", "schema", "ocsf-1.8.0.json")) as schema_file:
    CLASSES = sorted(c["name"] for c in json.load(schema_file)["classes"].values())


def start_simulator(binary, events, orgs, live_rate):
    proc = subprocess.Popen(
        [binary, "simulate", "--listen", "127.0.0.1:0", "--api-key", API_KEY, "--seed", "1000",
         "--events", str(events), "--orgs", str(orgs), "--late-max-secs", str(LATE_MAX),
         "--live-rate", str(live_rate), "--history-days", "7", "--users", "5", "--systems", "3",
         "--groups", "2", "--applications", "2"],
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


def get(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as resp:
        return resp.read().decode()


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def lags_of(body):
    lags, without = {}, None
    for line in body.splitlines():
        match = re.match(r'jumpcloud_ocsf_data_lag_seconds\{org="([^"]+)"\} (\S+)', line)
        if match:
            lags[match.group(1)] = float(match.group(2))
        match = re.match(r"jumpcloud_ocsf_orgs_without_completed_window(?:\{\})? (\S+)", line)
        if match:
            without = float(match.group(1))
    return lags, without


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def read_topics(topics, state_topic):
    """Every record of `topics` (read_committed, to the end) and the last value of each state key."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"bench-msp-{uuid.uuid4().hex}",
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "enable.partition.eof": True})
    metadata = consumer.list_topics(timeout=30)
    partitions = [TopicPartition(t, p) for t in topics + [state_topic] if t in metadata.topics
                  for p in metadata.topics[t].partitions]
    consumer.assign(partitions)
    remaining = {(tp.topic, tp.partition) for tp in partitions}
    records, state, audit = [], {}, {"records": 0, "bytes": 0, "live": {}}
    deadline = time.time() + 300
    while remaining and time.time() < deadline:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                remaining.discard((msg.topic(), msg.partition()))
            continue
        if msg.topic() == state_topic:
            key = msg.key().decode()
            if key.startswith("audit/"):
                # The audit's records (counts and event identities per window), not cursors.
                audit["records"] += 1
                audit["bytes"] += len(key) + len(msg.value() or b"")
                if msg.value() is None:
                    audit["live"].pop(key, None)
                else:
                    audit["live"][key] = len(key) + len(msg.value())
            elif msg.value() is not None:
                state[key] = json.loads(msg.value())
        else:
            records.append(msg.value())
    consumer.close()
    return records, state, audit


def delete_topics(prefix):
    """Deletes this run's topics (their names start with `prefix`)."""
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    names = [name for name in admin.list_topics(timeout=30).topics if name.startswith(prefix)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=60).values():
            future.result(60)


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=240)
    parser.add_argument("--live-rate", type=float, default=5.0,
                        help="live events per second, all organisations together")
    parser.add_argument("--audit", choices=["on", "off"], default="on",
                        help="[audit] enabled (counts per window kept with the cursors, settled "
                             "windows compared with /events/count)")
    args = parser.parse_args()

    sim, base_url = start_simulator(args.binary, args.events, args.orgs, args.live_rate)
    try:
        provider = "5f1e2d3c4b5a69788796a5b4"
        prefix = f"bench-msp-{uuid.uuid4().hex[:8]}"
        workdir = tempfile.mkdtemp(prefix="bench-msp-")
        port = 19000 + os.getpid() % 1000
        config = os.path.join(workdir, "config.toml")
        with open(config, "w") as f:
            f.write(f"""
[jumpcloud]
base_url = "{base_url}"
org_ids = "all"
provider_id = "{provider}"
[jumpcloud.auth]
type = "api_key"
api_key = "{API_KEY}"
[events]
lag = "{LAG}s"
poll_interval = "{POLL}s"
initial_lookback = "8d"
checkpoint_path = "{workdir}/checkpoints.json"
[kafka]
brokers = "{BOOTSTRAP}"
deployment_id = "{prefix}"
state_topic = "{prefix}.state"
[kafka.topic]
template = "{prefix}.{{class_name}}"
dead_letter = "{prefix}.dead_letter"
[metrics]
listen = "127.0.0.1:{port}"
[audit]
enabled = {"true" if args.audit == "on" else "false"}
""")
            # MSP_EXTRA_CONFIG: TOML appended as it is, for experiments (e.g. a [pipeline] table).
            f.write(os.environ.get("MSP_EXTRA_CONFIG", "") + "\n")
        started = time.time()
        proc = subprocess.Popen([args.binary, "run", "--config", config],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        log = []
        threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True).start()
        samples, peak, all_completed_at, last_metrics = [], 0, None, ""
        while time.time() - started < args.seconds:
            time.sleep(2)
            if proc.poll() is not None:
                sys.exit("run stopped: " + "".join(log)[-3000:])
            peak = max(peak, peak_rss_kib(proc.pid))
            try:
                last_metrics = get(f"http://127.0.0.1:{port}/metrics")
                lags, without = lags_of(last_metrics)
            except OSError:
                continue
            now = time.time() - started
            samples.append((now, lags))
            if all_completed_at is None and without == 0 and len(lags) == args.orgs:
                all_completed_at = now
        peak = max(peak, peak_rss_kib(proc.pid))
        proc.send_signal(15)
        _, status, usage = os.wait4(proc.pid, 0)
        cpu = usage.ru_utime + usage.ru_stime
        if status != 0:
            sys.exit("run failed: " + "".join(log)[-3000:])

        print(f"{args.orgs} organisations, {args.events:,} history events over 7 days, late arrival "
              f"U(0, {LATE_MAX} s), live {args.live_rate:g} events/s; run: lag {LAG} s, poll_interval {POLL} s, "
              f"10 requests/s, {args.seconds} s, audit {args.audit}")
        if all_completed_at is None:
            print("  not every organisation completed a window: no caught-up figures")
        else:
            caught_up = all_completed_at + POLL
            after = [lag for at, lags in samples if at >= caught_up for lag in lags.values()]
            per_org_max = {}
            for at, lags in samples:
                if at >= caught_up:
                    for org, lag in lags.items():
                        per_org_max[org] = max(per_org_max.get(org, 0.0), lag)
            print(f"  every organisation completed a window {all_completed_at:.0f} s after start; "
                  f"figures from {caught_up:.0f} s ({len(after):,} org-scrapes)")
            print(f"  data lag (s), all scrapes: p50 {percentile(after, 50):.1f}  p95 "
                  f"{percentile(after, 95):.1f}  max {max(after):.1f}   goal <= {GOAL}")
            worst = list(per_org_max.values())
            print(f"  data lag (s), each org's worst: p50 {percentile(worst, 50):.1f}  p95 "
                  f"{percentile(worst, 95):.1f}  max {max(worst):.1f}; "
                  f"{sum(1 for v in worst if v > GOAL)} organisations over the goal")
        print(f"  peak RSS {peak / 1024:.1f} MiB (goal < 64)   CPU {cpu:.1f} s "
              f"({cpu / args.seconds * 100:.1f} % of one core)")

        truth = [json.loads(line) for line in
                 get(f"{base_url}/__sim/events", {"x-api-key": API_KEY}).splitlines() if line.strip()]
        records, state, audit = read_topics([f"{prefix}.{c}" for c in CLASSES] + [f"{prefix}.dead_letter"],
                                     f"{prefix}.state")
        delivered = {}
        for value in records:
            record = json.loads(value)
            meta = record.get("metadata", {})
            key = (meta.get("tenant_uid"), meta.get("original_event_uid"), meta.get("original_time"))
            delivered[key] = delivered.get(key, 0) + 1
        duplicates = sum(n - 1 for n in delivered.values() if n > 1)
        missing = pending = expected = 0
        for event in truth:
            cursor = state.get(f"events/{event['organization']}")
            if cursor is None:
                continue
            cursor_time = parse_time(cursor["cursor"])
            event_time = parse_time(event["timestamp"])
            key = (event["organization"], event["id"], event["timestamp"])
            if event_time < cursor_time - datetime.timedelta(seconds=LATE_MAX):
                expected += 1
                if key not in delivered:
                    missing += 1
            elif event_time < cursor_time and key not in delivered:
                pending += 1
        known = {(e["organization"], e["id"], e["timestamp"]) for e in truth}
        extra = sum(1 for key in delivered if key not in known)
        print(f"  read_committed: {len(records):,} records; {expected:,} events expected (older "
              f"than each org's committed cursor - {LATE_MAX} s): missing {missing}, duplicated "
              f"{duplicates}, not in the simulator {extra}; {pending} late arrivals inside the "
              f"last {LATE_MAX} s before a cursor not fetched yet; {len(state)} cursors committed")
        if args.audit == "on":
            values = {}
            for line in last_metrics.splitlines():
                if line.startswith("jumpcloud_ocsf_audit_") and not line.startswith("#"):
                    name, _, value = line.rpartition(" ")
                    values[name] = values.get(name, 0.0) + float(value)
            windows = {r: values.get(f'jumpcloud_ocsf_audit_windows_total{{result="{r}"}}', 0)
                       for r in ("match", "missing", "excess")}
            print(f"  audit at the end: windows compared {windows}, settled windows waiting "
                  f"{values.get('jumpcloud_ocsf_audit_backlog_windows{}', 0):.0f}, open windows with "
                  f"deliveries {values.get('jumpcloud_ocsf_audit_open_windows{}', 0):.0f}; state topic: "
                  f"{audit['records']:,} audit records written ({audit['bytes'] / 1024:.0f} KiB), "
                  f"{len(audit['live']):,} live ({sum(audit['live'].values()) / 1024:.0f} KiB)")
        text = "".join(log)
        warnings = [line for line in text.splitlines() if " WARN " in line or " ERROR " in line]
        print(f"  run log: {len(warnings)} warnings/errors" + (", last: " + warnings[-1][:300] if warnings else ""))
        delete_topics(prefix)
    finally:
        sim.terminate()
        sim.wait()


if __name__ == "__main__":
    main()
