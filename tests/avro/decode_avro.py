#!/usr/bin/env python3
"""Independent decoder for the producer's Avro records (Confluent wire format).

Reads Avro-encoded Kafka record values, fetches each writer schema from the schema registry by
the id in the Confluent header (magic byte 0 + 4-byte big-endian schema id), decodes them with
fastavro (not the Rust code under test), turns the JSON-encoded string fields (marked
``"ocsf_encoding": "json"`` in the schema: ``unmapped``, ``json_t`` and recursion cut points)
back into JSON, drops nulls (null and absent are the same in OCSF) and prints one OCSF JSON
event per line, ready for ``jumpcloud-ocsf validate``.

Input, one of:
  --input FILE          NDJSON lines with ``{"value_b64": "..."}`` (as the Rust tests write)
  --bootstrap HOST:PORT --topic T [--topic T ...] --count N
                        read N records from the topics' beginnings with confluent-kafka
                        (a new consumer group, read_committed), stopping at --timeout seconds

Requires: python3 -m pip install fastavro confluent-kafka
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import struct
import sys
import time
import urllib.request

import fastavro

JSON_ENCODING_ATTRIBUTE = "ocsf_encoding"


class Registry:
    """GET /schemas/ids/{id}, cached."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.cache: dict[int, tuple[dict, object]] = {}

    def schema(self, schema_id: int) -> tuple[dict, object]:
        if schema_id not in self.cache:
            request = urllib.request.Request(
                f"{self.url}/schemas/ids/{schema_id}",
                headers={"Accept": "application/vnd.schemaregistry.v1+json"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                text = json.loads(response.read())["schema"]
            raw = json.loads(text)
            self.cache[schema_id] = (raw, fastavro.parse_schema(json.loads(text)))
        return self.cache[schema_id]


def collect_named(schema, named: dict) -> None:
    if isinstance(schema, dict):
        if schema.get("type") == "record":
            named[schema["name"]] = schema
            for field in schema["fields"]:
                collect_named(field["type"], named)
        elif "items" in schema:
            collect_named(schema["items"], named)
    elif isinstance(schema, list):
        for variant in schema:
            collect_named(variant, named)


def to_ocsf(value, schema, named: dict):
    """Decoded Avro value -> OCSF JSON, guided by the raw writer schema."""
    if value is None:
        return None
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    if isinstance(schema, list):  # ["null", T]
        non_null = [variant for variant in schema if variant != "null"]
        return to_ocsf(value, non_null[0], named)
    if isinstance(schema, dict) and schema.get("type") == "record":
        out = {}
        for field in schema["fields"]:
            converted = to_ocsf(value.get(field["name"]), field["type"], named)
            if field.get(JSON_ENCODING_ATTRIBUTE) == "json" and isinstance(converted, str):
                converted = drop_nulls(json.loads(converted))
            if converted is not None:
                out[field["name"]] = converted
        return out
    if isinstance(schema, dict) and schema.get("type") == "array":
        return [to_ocsf(item, schema["items"], named) for item in value]
    return value


def drop_nulls(value):
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def decode(payload: bytes, registry: Registry) -> dict:
    if len(payload) < 5 or payload[0] != 0:
        raise ValueError("not Confluent wire format (magic byte 0 + schema id)")
    (schema_id,) = struct.unpack(">I", payload[1:5])
    raw, parsed = registry.schema(schema_id)
    record = fastavro.schemaless_reader(io.BytesIO(payload[5:]), parsed)
    named: dict = {}
    collect_named(raw, named)
    return to_ocsf(record, raw, named)


def read_file(path: str):
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield base64.b64decode(json.loads(line)["value_b64"])


def read_kafka(bootstrap: str, topics: list[str], count: int, timeout: float):
    import uuid

    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"decode-avro-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "session.timeout.ms": 10000,
        }
    )
    consumer.subscribe(topics)
    seen = 0
    deadline = time.monotonic() + timeout
    while seen < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None or message.error():
            continue
        seen += 1
        yield message.value()
    if seen:
        consumer.commit(asynchronous=False)
    consumer.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", required=True, help="schema registry base URL")
    parser.add_argument("--input", help="NDJSON file of {\"value_b64\": ...}")
    parser.add_argument("--bootstrap")
    parser.add_argument("--topic", action="append", default=[])
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    registry = Registry(args.registry)
    if args.input:
        payloads = read_file(args.input)
    elif args.bootstrap and args.topic:
        payloads = read_kafka(args.bootstrap, args.topic, args.count, args.timeout)
    else:
        parser.error("give --input FILE, or --bootstrap with --topic and --count")
    for payload in payloads:
        print(json.dumps(decode(payload, registry), separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
