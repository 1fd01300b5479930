#!/usr/bin/env bash
# Entry point of the contracts project: installs the pinned chain toolchain from npm
# (forge, anvil, cast, solc-js, OpenZeppelin) and runs forge offline.
#
#   run.sh install           npm ci when node_modules is missing or older than package-lock.json
#   run.sh build             install, then forge build (artifacts in out/<File>.sol/<Contract>.json)
#   run.sh test [ARGS...]    install, then forge test ARGS (FOUNDRY_PROFILE=deep for the long campaign)
#   run.sh forge ARGS...     install, then any forge command in this project
#   run.sh bin NAME          install, then print the absolute path of anvil, forge or cast
#
# Only `bin` output goes to stdout; install progress goes to stderr, so callers can capture paths.
set -euo pipefail

DIR="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
LOCK="$DIR/.run.lock"

die() {
    echo "contracts/run.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '5,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

bin_path() {
    case "$1" in
        anvil | forge | cast) echo "$DIR/node_modules/@foundry-rs/$1-linux-amd64/bin/$1" ;;
        *) die "unknown tool '$1' (expected anvil, forge or cast)" ;;
    esac
}

needs_install() {
    local marker="$DIR/node_modules/.package-lock.json"
    [[ ! -f "$marker" ]] && return 0
    [[ "$DIR/package-lock.json" -nt "$marker" ]] && return 0
    local tool
    for tool in anvil forge cast; do
        [[ -x "$(bin_path "$tool")" ]] || return 0
    done
    [[ -f "$DIR/node_modules/solc/package.json" ]] || return 0
    return 1
}

# Serialises installs and builds of this directory: test fixtures and CI may start several at once.
with_lock() {
    if command -v flock >/dev/null 2>&1; then
        (
            flock 9
            "$@"
        ) 9>"$LOCK"
    else
        "$@"
    fi
}

do_install() {
    needs_install || return 0
    command -v node >/dev/null 2>&1 || die "node is required (Node.js 20 or newer)"
    command -v npm >/dev/null 2>&1 || die "npm is required"
    [[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] ||
        die "the pinned forge/anvil/cast packages are for linux x86_64, not $(uname -s) $(uname -m)"
    echo "contracts/run.sh: installing the chain toolchain (npm ci)" >&2
    (cd "$DIR" && npm ci --no-audit --no-fund >&2)
    local tool
    for tool in anvil forge cast; do
        [[ -x "$(bin_path "$tool")" ]] ||
            die "$(bin_path "$tool") is not executable: npm skipped the postinstall script (ignore-scripts?)"
    done
}

install() {
    needs_install || return 0
    with_lock do_install
}

forge_in_project() {
    cd "$DIR"
    # foundry.toml names the compiler relative to this directory; the absolute path also
    # serves a forge started elsewhere with --root.
    FOUNDRY_SOLC="$DIR/solc-js.sh" "$(bin_path forge)" "$@"
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    install)
        install
        ;;
    build)
        install
        with_lock forge_in_project build "$@"
        ;;
    test)
        install
        with_lock forge_in_project build
        forge_in_project test "$@"
        ;;
    forge)
        install
        forge_in_project "$@"
        ;;
    bin)
        [[ $# -eq 1 ]] || usage
        path="$(bin_path "$1")"
        install
        echo "$path"
        ;;
    *)
        usage
        ;;
esac
