#!/usr/bin/env python3
"""Runs the workspace's test binaries side by side (scripts/test.sh's test step).

    cargo test --workspace --no-run --message-format=json | scripts/run-tests.py [--jobs N] [-- ARGS]

Reads cargo's JSON messages on stdin, takes every test executable it built, and runs them N at a
time (default 2), each in its package's directory as `cargo test` does, with ARGS (e.g.
`--ignored`). The binaries that took longest the last time start first (their durations are kept
in $JUMPCLOUD_OCSF_CACHE/test-durations.json; unknown ones start in the order cargo built them).
Each binary's output is printed as one block when it ends, then a table of durations; the exit
status is 1 when any binary failed. The tests share the broker and registry as they do under
`cargo test` (unique topic names), so running binaries together is the same as running tests of
one binary together.
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time


def executables(stream):
    """(name, path, directory) of each test binary in cargo's JSON messages, in build order."""
    seen, found = set(), []
    for line in stream:
        line = line.strip()
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        if message.get("reason") != "compiler-artifact" or not message.get("executable"):
            continue
        if not message.get("profile", {}).get("test"):
            continue
        path = message["executable"]
        if path in seen:
            continue
        seen.add(path)
        package = message["package_id"]
        manifest = message["manifest_path"]
        target = message["target"]
        kind = "unittests" if "lib" in target["kind"] or "bin" in target["kind"] else "test"
        name = f"{os.path.basename(os.path.dirname(manifest))} {kind} {target['name']}"
        found.append((name, path, os.path.dirname(manifest), package))
    return found


def run(binary, args):
    name, path, directory, _ = binary
    env = dict(os.environ, CARGO_MANIFEST_DIR=directory)
    started = time.monotonic()
    result = subprocess.run([path, *args], cwd=directory, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    return name, result.returncode, time.monotonic() - started, result.stdout.decode(errors="replace")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("TEST_JOBS", "2")))
    parser.add_argument("args", nargs="*", help="arguments for every test binary (after --)")
    options = parser.parse_args()
    binaries = executables(sys.stdin)
    if not binaries:
        sys.exit("run-tests.py: no test executables in cargo's output")
    cache = os.environ.get("JUMPCLOUD_OCSF_CACHE", os.path.expanduser("~/.cache/jumpcloud-ocsf"))
    durations_file = os.path.join(cache, "test-durations.json")
    try:
        with open(durations_file) as handle:
            known = json.load(handle)
    except (OSError, ValueError):
        known = {}
    # Longest first (a binary not seen before counts as long: it may be).
    order = {binary[0]: index for index, binary in enumerate(binaries)}
    binaries.sort(key=lambda b: (-known.get(b[0], 60.0), order[b[0]]))

    results, failed = {}, []
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        futures = [pool.submit(run, binary, options.args) for binary in binaries]
        for future in concurrent.futures.as_completed(futures):
            name, code, seconds, output = future.result()
            results[name] = seconds
            verdict = "ok" if code == 0 else f"FAILED (exit {code})"
            print(f"\n---- {name}: {verdict} in {seconds:.1f} s ----", flush=True)
            print(output, end="" if output.endswith("\n") else "\n", flush=True)
            if code != 0:
                failed.append(name)

    print(f"\n{len(results)} test binaries, {options.jobs} side by side, in "
          f"{time.monotonic() - started:.0f} s; the longest:")
    for name, seconds in sorted(results.items(), key=lambda item: -item[1])[:8]:
        print(f"  {seconds:7.1f} s  {name}")
    if not options.args:
        known.update(results)
        try:
            os.makedirs(cache, exist_ok=True)
            with open(durations_file, "w") as handle:
                json.dump(known, handle, indent=1, sort_keys=True)
        except OSError:
            pass
    if failed:
        print(f"\n{len(failed)} test binaries failed:")
        for name in failed:
            print(f"  {name}")
        sys.exit(1)


if __name__ == "__main__":
    main()
