#!/usr/bin/env python3
"""Baseline for the producer benchmark: Python confluent-kafka (librdkafka) producing the same
OCSF JSON lines, cycled to N records, to the same per-class topics with the same producer
settings as `OcsfProducer` defaults (acks=all, idempotence, zstd, linger.ms=20,
batch.num.messages=10000, batch.size=1000000, queue limits 10000 messages / 4096 KiB), the same
keys (user uid, else organisation, else metadata.uid) and headers. Every delivery is confirmed.

    python3 crates/producer/benches/baseline_confluent_kafka.py --events 1000000 [--input FILE]

The default input is target/producer-bench-input.ndjson, the records the project maps from its
own fixtures (write it with `produce_bench --dump-input`, as producer_vs_baseline.sh does).

Prints events/s and peak RSS. Requires: python3 -m pip install confluent-kafka
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_INPUT = os.path.join(HERE, "../../../target/producer-bench-input.ndjson")
CLASS_NAMES = {
    0: "base_event",
    3001: "account_change",
    3002: "authentication",
    3004: "entity_management",
    3005: "user_access",
    3006: "group_management",
    5001: "inventory_info",
    5003: "user_inventory",
}


def prepared(line: str, prefix: str):
    event = json.loads(line)
    metadata = event.get("metadata", {})
    class_uid = event["class_uid"]
    key = (event.get("user") or {}).get("uid") or metadata.get("tenant_uid") or metadata["uid"]
    headers = [("ocsf_class_uid", str(class_uid)), ("ocsf_version", "1.8.0")]
    for name, field in (("event_code", "event_code"), ("tenant_uid", "tenant_uid"), ("original_event_uid", "original_event_uid")):
        if metadata.get(field) is not None:
            headers.append((name, metadata[field]))
    headers.append(("content-type", "application/json"))
    topic = f"{prefix}.{CLASS_NAMES.get(class_uid, 'base_event')}"
    return topic, key.encode(), line.encode(), headers


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--input", default=DEFAULT_INPUT)
    parser.add_argument("--prefix", default=f"baseline-{os.getpid()}")
    parser.add_argument("--brokers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    args = parser.parse_args()
    with open(args.input, encoding="utf-8") as handle:
        records = [prepared(line.strip(), args.prefix) for line in handle if line.strip()]

    topics = sorted({topic for topic, _, _, _ in records})
    admin = AdminClient({"bootstrap.servers": args.brokers})
    for future in admin.create_topics([NewTopic(t, 3, 1) for t in topics]).values():
        try:
            future.result()
        except Exception:  # already exists
            pass

    producer = Producer(
        {
            "bootstrap.servers": args.brokers,
            "client.id": "baseline",
            "acks": "all",
            "enable.idempotence": True,
            "compression.codec": "zstd",
            "linger.ms": 20,
            "batch.num.messages": 10000,
            "batch.size": 1000000,
            "message.max.bytes": 1000000,
            "queue.buffering.max.messages": 10000,
            "queue.buffering.max.kbytes": 4096,
            "message.timeout.ms": 300000,
        }
    )
    counts = {"acked": 0, "failed": 0}

    def on_delivery(error, _message):
        counts["failed" if error else "acked"] += 1

    started = time.monotonic()
    for topic, key, value, headers in itertools.islice(itertools.cycle(records), args.events):
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush()
    seconds = time.monotonic() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"baseline (python confluent-kafka): {counts['acked']} acked, {counts['failed']} failed in {seconds:.2f} s"
        f" = {counts['acked'] / seconds:.0f} events/s; peak RSS {peak_mib:.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
