#!/usr/bin/env bash
# The solc executable named in foundry.toml: runs the solc-js wrapper beside it.
exec node "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/solc-js.cjs" "$@"
