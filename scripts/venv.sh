# Sourced by scripts/test.sh and the benchmark scripts: the Python venv of tests/requirements.txt
# in $JUMPCLOUD_OCSF_CACHE/venv (created, or re-created when the requirements change). Sets VENV.
CACHE=${JUMPCLOUD_OCSF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jumpcloud-ocsf}
export JUMPCLOUD_OCSF_CACHE=$CACHE
mkdir -p "$CACHE"
REQ_HASH=$(sha256sum tests/requirements.txt | cut -c1-16)
VENV="$CACHE/venv"
if [ ! -f "$VENV/.req-$REQ_HASH" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
  touch "$VENV/.req-$REQ_HASH"
fi
