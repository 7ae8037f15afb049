#!/usr/bin/env python3
"""Writes schemas/ocsf-1.8.0/schema.json: the shared OCSF 1.8.0 compact schema
(../shared/ocsf/schema-1.8.0.json, 8 classes) plus the classes it lacks that the mapper emits
(Detection Finding 2004), taken from the OCSF 1.8.0 server export.

The shared validator's schema covers only the 8 classes the project emitted before Detection
Finding. The export of the OCSF schema server for 1.8.0
(https://schema.ocsf.io/1.8.0/export/v2/schema; a copy ships in the PyPI package
ocsf-json-schema 1.2.0 as ocsf_json_schema/ocsf/1.8.0.json) is reduced with the shared
generator (../shared/ocsf/build_schema.py --compiled, unchanged). Reduced the same way, the
export gives exactly the shared file for the 8 classes (only the documentation-only `extends`
chains differ, which a compiled input does not carry); this script checks that before it adds
anything, keeps every shared entry as it is, and adds only what is new: the classes, their
objects (with `extends` chains completed from the shared file, and the platform extensions'
objects named as the shared generator names them: `win_service`, not `win/win_service`) and
types.

Usage (from the workspace root):
    pip download --no-deps -d /tmp/ojs ocsf-json-schema==1.2.0
    unzip -o /tmp/ojs/ocsf_json_schema-1.2.0-py3-none-any.whl -d /tmp/ojs
    python3 scripts/vendor-ocsf-schema.py /tmp/ojs/ocsf_json_schema/ocsf/1.8.0.json

Validate events of the added classes with the shared validator and this file:
    python3 ../shared/ocsf/validate.py --strict --schema schemas/ocsf-1.8.0/schema.json FILE
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "ocsf")
OUT = os.path.join(ROOT, "schemas", "ocsf-1.8.0", "schema.json")
ADDED_CLASSES = ["detection_finding"]


def unprefix_extension_objects(reduced):
    """The export names objects of the platform extensions `win/win_service`; the shared
    generator (reading the repository) names them `win_service`. Use the shared names."""
    renames = {name: name.split("/", 1)[1] for name in reduced["objects"] if "/" in name}
    if set(renames.values()) & set(reduced["objects"]):
        sys.exit(f"extension objects collide with core objects: {renames}")

    def fix(entry):
        for attribute in entry["attributes"].values():
            if attribute.get("object_type") in renames:
                attribute["object_type"] = renames[attribute["object_type"]]
        return entry

    objects = {}
    for name, entry in reduced["objects"].items():
        entry = fix(entry)
        if name in renames:
            entry["name"] = renames[name]
        objects[renames.get(name, name)] = entry
    reduced["objects"] = objects
    for entry in reduced["classes"].values():
        fix(entry)
    return reduced


def main(export_path):
    sys.path.insert(0, SHARED)
    import build_schema  # the shared generator, unchanged

    with open(os.path.join(SHARED, "schema-1.8.0.json"), encoding="utf-8") as f:
        shared = json.load(f)
    with open(export_path, encoding="utf-8") as f:
        export = json.load(f)
    if export.get("version") != "1.8.0":
        sys.exit(f"{export_path}: OCSF {export.get('version')}, expected 1.8.0")

    source = {"repository": build_schema.SCHEMA_REPO_URL, "compiled_by": "ocsf-schema-compiler",
              "extensions": sorted(export.get("extensions", {}))}
    classes = list(shared["selected_classes"]) + ADDED_CLASSES
    reduced = unprefix_extension_objects(build_schema.reduce_schema(export, classes, source))

    # The export must agree with the shared file on everything the shared file has.
    def strip_extends(entries):
        return {k: {kk: vv for kk, vv in v.items() if kk != "extends"} for k, v in entries.items()}

    for key in ("ocsf_version", "categories", "profiles"):
        if reduced[key] != shared[key]:
            sys.exit(f"the export differs from the shared schema in {key}")
    for key in ("types", "objects"):
        for name, entry in shared[key].items():
            if strip_extends({name: reduced[key][name]}) != strip_extends({name: entry}):
                sys.exit(f"the export differs from the shared schema in {key}/{name}")
    for uid, entry in shared["classes"].items():
        if strip_extends({uid: reduced["classes"][uid]}) != strip_extends({uid: entry}):
            sys.exit(f"the export differs from the shared schema in classes/{uid}")

    def chain(parent, known):
        if parent in (None, "object"):
            return ["object"] if parent else []
        if parent == "_entity":
            return ["_entity", "object"]
        if parent in known:
            return [parent] + known[parent].get("extends", [])
        return [parent]

    out = dict(shared)
    out["selected_classes"] = classes
    out["source"] = dict(shared["source"])
    out["source"]["added_classes"] = {
        "classes": ADDED_CLASSES,
        "from": "OCSF schema server export https://schema.ocsf.io/1.8.0/export/v2/schema "
                "(PyPI ocsf-json-schema 1.2.0, ocsf_json_schema/ocsf/1.8.0.json), reduced with "
                "shared/ocsf/build_schema.py --compiled by scripts/vendor-ocsf-schema.py; the "
                "export reduces to exactly the shared schema for its 8 classes",
    }
    out["types"] = dict(sorted({**reduced["types"], **shared["types"]}.items()))
    objects = dict(shared["objects"])
    for name, entry in reduced["objects"].items():
        if name not in objects:
            entry = dict(entry)
            parent = next((o.get("extends") for n, o in export["objects"].items()
                           if n == name or n.endswith("/" + name)), None)
            if parent:
                entry["extends"] = chain(parent, objects)
            objects[name] = entry
    out["objects"] = dict(sorted(objects.items()))
    out_classes = dict(shared["classes"])
    for name in ADDED_CLASSES:
        uid = str(export["classes"][name]["uid"])
        entry = dict(reduced["classes"][uid])
        # Every class ends in base_event (detection_finding -> finding -> base_event); the
        # export has no entry for the hidden intermediate class.
        parent = export["classes"][name].get("extends")
        entry["extends"] = [parent, "base_event"] if parent not in (None, "base_event") \
            else ["base_event"]
        out_classes[uid] = entry
    out["classes"] = out_classes
    out["other_classes"] = {uid: caption for uid, caption in shared["other_classes"].items()
                            if uid not in out_classes}
    text = json.dumps(out, indent=1, ensure_ascii=False) + "\n"
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {OUT}: {len(out['classes'])} classes, {len(out['objects'])} objects, "
          f"{len(out['types'])} types", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
