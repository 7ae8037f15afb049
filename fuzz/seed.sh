#!/usr/bin/env bash
# fuzz/seed.sh: the seed corpora, from the repository's Directory Insights fixtures.
#   corpus/mapper/: one file per fixture event (each line of tests/fixtures/events/*.ndjson and
#                   tests/fixtures/public/jumpcloud-events/*.ndjson)
#   corpus/page/:   a few small events pages (JSON arrays of fixture lines, as the API serves
#                   them): the first 3 events of each fixture file, plus the empty page and a
#                   pretty-printed one (small inputs keep libFuzzer's executions fast)
# Idempotent (files are named by content); the corpora are not committed (fuzz/.gitignore).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=..
mkdir -p corpus/mapper corpus/page

put() { # put DIR < content: store stdin under its SHA-1, as libFuzzer names corpus files
  local dir=$1 tmp
  tmp=$(mktemp)
  cat >"$tmp"
  mv "$tmp" "$dir/$(sha1sum "$tmp" | cut -c1-40)"
}

files=("$ROOT"/tests/fixtures/events/*.ndjson "$ROOT"/tests/fixtures/public/jumpcloud-events/*.ndjson)
for file in "${files[@]}"; do
  while IFS= read -r line || [ -n "$line" ]; do
    [ -n "${line//[[:space:]]/}" ] || continue
    printf '%s' "$line" | put corpus/mapper
  done <"$file"
  # The file's first 3 events as one page: `[` line `,` line `,` line `]`.
  { printf '['; awk 'NF && n++ < 3' "$file" | paste -sd, -; printf ']'; } \
    | put corpus/page
done
printf '[]' | put corpus/page
# A pretty-printed page of the first three fixture events.
head -n 3 "$ROOT"/tests/fixtures/events/samples.ndjson \
  | python3 -c 'import json,sys; print(json.dumps([json.loads(l) for l in sys.stdin], indent=2))' \
  | put corpus/page

echo "corpus/mapper: $(ls corpus/mapper | wc -l) files, corpus/page: $(ls corpus/page | wc -l) files" >&2
