#!/usr/bin/env bash
# Runs the settlement bench (issue 5) with one command: a Release build, then leases settled per second on a real Anvil
# beside raw ERC-20 transfers, writing bench/results/settlement.json and settlement.md. A few minutes on a 2-core machine.
# Options pass through, e.g. `bench/settlement/run.sh --leases 5000 --repetitions 3` (--tenants, --providers,
# --transfers, --transfer-senders, --store memory|sqlite).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

dotnet build bench/OrleansCompute.Bench/OrleansCompute.Bench.csproj -c Release --nologo -v quiet
dotnet bench/OrleansCompute.Bench/bin/Release/net10.0/OrleansCompute.Bench.dll settlement \
  --results bench/results --command "bench/settlement/run.sh${*:+ $*}" "$@"
