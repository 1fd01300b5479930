#!/usr/bin/env bash
# Runs every test: the contracts' forge suite (unit, fuzz, invariant), then the .NET suites
# (grains on an Orleans TestCluster; the chain client and the whole lease path on a real Anvil).
# Installs the chain tools from contracts/package-lock.json when they are missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

contracts/run.sh test
dotnet test OrleansCompute.sln -c Release --nologo
