#!/usr/bin/env bash
# One entry point for a fresh machine (Debian/Ubuntu with Python >= 3.11, git and apt):
#   bash dev.sh demo    set up, fetch boundaries and SIDPOL, build the demo store (real counts + synthetic points), serve
#   bash dev.sh test    set up (Python packages + Debian's chromium/chromium-driver), run every test
#   bash dev.sh bench   run every benchmark, write benchmarks/REPORT.md and benchmarks/report.json
#   bash dev.sh load    load-test the served dashboard (gunicorn, 2 workers, 50 users, 60 s, loopback)
#   bash dev.sh lock    re-resolve requirements.lock from pyproject.toml (after changing a dependency)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV=${HEXWATCH_VENV:-$ROOT/.venv}
STORE=${HEXWATCH_STORE:-$ROOT/var/demo-store}
DEMO_N=${HEXWATCH_DEMO_INCIDENTS:-1000000}
# The district-month layer of the demo: the real SIDPOL counts (fetched from ../shared/sidpol or
# the pinned URL, verified), or "synthetic" for a machine with neither.
DEMO_COUNTS=${HEXWATCH_DEMO_COUNTS:-sidpol}

pick_python() {
  for py in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [[ -n $py ]] && command -v "$py" >/dev/null 2>&1 || continue
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo "$py"; return; }
  done
  echo "error: hexwatch needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 2
}

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

setup() {  # $1: pip extras
  if [[ ! -x $VENV/bin/python ]]; then
    py=$(pick_python)
    "$py" -m venv "$VENV" || { echo "error: could not create a venv; on Debian: apt-get install python3-venv" >&2; exit 2; }
  fi
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # Every third-party package comes from the lock, pinned and hash-checked; the project
  # itself is installed on top without resolving anything again (README, "Dependencies").
  "$VENV/bin/python" -m pip install -q --require-hashes -r requirements.lock
  "$VENV/bin/python" -m pip install -q --no-deps -e ".[$1]"
}

browser() {
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "installing Debian's chromium and chromium-driver for the browser tests..."
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
}

axe() {  # axe-core (npm) for the accessibility browser test, into a git-ignored tools/axe/node_modules
  if [[ ! -f $ROOT/tools/axe/node_modules/axe-core/axe.min.js ]]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "installing Debian's npm for axe-core (the accessibility test)..."
      as_root apt-get update -qq
      DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq npm >/dev/null
    fi
    (cd "$ROOT/tools/axe" && npm install --no-save --no-audit --no-fund --silent axe-core@4)
  fi
}

case "${1:-}" in
  demo)
    setup test
    "$VENV/bin/hexwatch" boundaries fetch
    [[ $DEMO_COUNTS == synthetic ]] || "$VENV/bin/hexwatch" data fetch "$DEMO_COUNTS"
    # Re-running adds nothing to a complete store and finishes an interrupted one.
    "$VENV/bin/hexwatch" demo --store "$STORE" --incidents "$DEMO_N" --seed 42 --counts "$DEMO_COUNTS"
    "$VENV/bin/hexwatch" summary --store "$STORE"
    # A local official account so the full view can be tried; anonymous visitors get the
    # public view. The password is made once and kept in var/ (git-ignored).
    mkdir -p "$ROOT/var"
    users=$ROOT/var/demo-users.toml
    if [[ ! -f $users ]]; then
      pw=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(12))')
      printf '%s\n' "$pw" > "$ROOT/var/demo-official-password.txt"
      chmod 600 "$ROOT/var/demo-official-password.txt"
      printf '%s\n' "$pw" | "$VENV/bin/hexwatch" users hash-password --name demo --stdin > "$users.tmp"
      mv "$users.tmp" "$users"
    fi
    echo "official sign-in: user 'demo', password in var/demo-official-password.txt"
    export HEXWATCH_USERS_FILE=$users
    exec "$VENV/bin/hexwatch" serve --store "$STORE" --host "${HEXWATCH_HOST:-127.0.0.1}" --port "${HEXWATCH_PORT:-8050}"
    ;;
  test)
    setup test
    browser
    axe
    shift
    rc=0
    "$VENV/bin/python" -m pytest -n 2 --dist loadfile "$@" || rc=$?
    # pytest's 5 means "no tests collected": that is a failure here, never a pass.
    exit $rc
    ;;
  bench)
    setup "test,bench"
    browser
    "$VENV/bin/hexwatch" boundaries fetch  # the demo stores are built on the real districts
    shift
    exec "$VENV/bin/python" -m benchmarks.run_all "$@"
    ;;
  load)
    setup "test,bench"
    "$VENV/bin/hexwatch" boundaries fetch
    shift
    exec "$VENV/bin/python" -m benchmarks.bench_load "$@"
    ;;
  lock)
    # The lock pins the main dependencies and the test and bench extras for CPython 3.11
    # on x86-64 Linux, each with its sha256; uv resolves, pip installs from it.
    [[ -x $VENV/bin/python ]] || "$(pick_python)" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q "uv>=0.5,<1"
    "$VENV/bin/uv" pip compile pyproject.toml --extra test --extra bench --generate-hashes \
      --python-version 3.11 --python-platform x86_64-manylinux_2_28 --quiet -o requirements.lock
    echo "requirements.lock updated: commit it with the pyproject.toml change"
    ;;
  *)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
