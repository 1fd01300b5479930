#!/usr/bin/env bash
# Runs the market bench (issue 3) with one command: a Release build, then every scenario, each in its own process,
# writing bench/results/market.json and market.md. About seven minutes on a 2-core machine, build included.
# Options pass through to the bench, e.g. `bench/run.sh --duration 5 --repetitions 3 --count 200000`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dotnet build bench/OrleansCompute.Bench/OrleansCompute.Bench.csproj -c Release --nologo -v quiet
dotnet bench/OrleansCompute.Bench/bin/Release/net10.0/OrleansCompute.Bench.dll all \
  --results bench/results --command "bench/run.sh${*:+ $*}" "$@"
