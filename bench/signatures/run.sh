#!/usr/bin/env bash
# Runs the signatures bench (issue 6) with one command: a Release build, then vouchers signed and verified per second by
# the market's signer beside Nethereum's default EIP-712 signer, writing bench/results/signatures.json and signatures.md.
# About a minute. Options pass through, e.g. `bench/signatures/run.sh --duration 5 --repetitions 5` (--vouchers).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

dotnet build bench/OrleansCompute.Bench/OrleansCompute.Bench.csproj -c Release --nologo -v quiet
dotnet bench/OrleansCompute.Bench/bin/Release/net10.0/OrleansCompute.Bench.dll signatures \
  --results bench/results --command "bench/signatures/run.sh${*:+ $*}" "$@"
