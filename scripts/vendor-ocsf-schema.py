#!/usr/bin/env python3
"""Writes crates/ocsf-schema/schema/ocsf-1.8.0.json: the reference material's OCSF 1.8.0
compact schema (../shared/ocsf/schema-1.8.0.json, written by the reference validator's
generator build_schema.py from ocsf/ocsf-schema tag 1.8.0), unchanged.

It covers the 19 classes the product emits: every class of JumpCloud's own OCSF mapping of
Directory Insights (mappings/vendor/) and the two inventory classes. The script refuses a file
of another OCSF version or one that lacks a class the product emits, then copies it byte for
byte (the crate's README records its SHA-256).

Usage (from the workspace root):
    python3 scripts/vendor-ocsf-schema.py [PATH-TO-schema-1.8.0.json]

Then: cargo test -p ocsf-schema && cargo run -p producer --bin generate-avro-schemas
"""
import hashlib
import json
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SOURCE = os.path.join(ROOT, "..", "shared", "ocsf", "schema-1.8.0.json")
OUT = os.path.join(ROOT, "crates", "ocsf-schema", "schema", "ocsf-1.8.0.json")
CLASSES = {
    0: "base_event", 1006: "scheduled_job_activity", 1007: "process_activity",
    2004: "detection_finding", 3001: "account_change", 3002: "authentication",
    3004: "entity_management", 3005: "user_access", 3006: "group_management",
    4009: "email_activity", 5001: "inventory_info", 5003: "user_inventory",
    5019: "device_config_state_change", 5020: "software_info",
    5023: "cloud_resources_inventory_info", 6002: "application_lifecycle",
    6003: "api_activity", 6005: "datastore_activity", 6008: "application_error",
}


def main(source):
    with open(source, encoding="utf-8") as f:
        schema = json.load(f)
    if schema.get("ocsf_version") != "1.8.0":
        sys.exit(f"{source}: OCSF {schema.get('ocsf_version')}, expected 1.8.0")
    for uid, name in CLASSES.items():
        entry = schema["classes"].get(str(uid))
        if entry is None or entry.get("name") != name:
            sys.exit(f"{source}: class {uid} ({name}) is missing")
    shutil.copyfile(source, OUT)
    with open(OUT, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(schema['classes'])} classes, "
          f"{len(schema['objects'])} objects, SHA-256 {digest}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SOURCE)
