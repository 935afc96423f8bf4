#!/usr/bin/env bash
# Builds and installs guard with its shell completions and man pages.
#   ./install.sh [--prefix DIR]     default prefix: ~/.local
# On Debian or Ubuntu it installs the build's system packages with apt-get (as root or through
# sudo); on macOS it checks for Xcode's command line tools. Rust (cargo) must be installed.
set -euo pipefail
cd "$(dirname "$0")"

prefix="${HOME}/.local"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; echo "hint: ./install.sh [--prefix DIR]" >&2; exit 2 ;;
  esac
done

say() { printf 'install: %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else say "cannot run as root: $*"; return 1
  fi
}

case "$(uname -s)" in
  Linux)
    if command -v apt-get >/dev/null; then
      need=()
      command -v cc >/dev/null || need+=(build-essential)
      command -v pkg-config >/dev/null || need+=(pkg-config)
      # pg_query compiles PostgreSQL's parser and generates its bindings with libclang.
      ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
      if [ ${#need[@]} -gt 0 ]; then
        say "installing ${need[*]} (apt-get)"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
      fi
    else
      command -v cc >/dev/null || { say "a C compiler is needed: install gcc or clang"; exit 1; }
    fi ;;
  Darwin)
    xcode-select -p >/dev/null 2>&1 || { say "run: xcode-select --install (a C compiler is needed)"; exit 1; } ;;
esac

command -v cargo >/dev/null || { say "cargo is needed: install Rust from https://rustup.rs"; exit 1; }

say "building guard (release)"
cargo build --release --locked --quiet

install -d "$prefix/bin" "$prefix/share/man/man1" \
  "$prefix/share/bash-completion/completions" "$prefix/share/zsh/site-functions" \
  "$prefix/share/fish/vendor_completions.d"
install -m 0755 target/release/guard "$prefix/bin/guard"
install -m 0644 man/*.1 "$prefix/share/man/man1/"
install -m 0644 completions/guard.bash "$prefix/share/bash-completion/completions/guard"
install -m 0644 completions/_guard "$prefix/share/zsh/site-functions/_guard"
install -m 0644 completions/guard.fish "$prefix/share/fish/vendor_completions.d/guard.fish"

say "installed $prefix/bin/guard ($("$prefix/bin/guard" --version))"
say "man pages in $prefix/share/man/man1, completions for bash, zsh and fish under $prefix/share"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) say "add $prefix/bin to your PATH, e.g.: export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
