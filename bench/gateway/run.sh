#!/usr/bin/env bash
# Runs the gateway bench (issue 6) with one command: a Release build, then the latency the OpenAI-compatible gateway adds
# and the requests/s it serves, against the same simulated accelerator served directly, on the real host and a real Anvil,
# with the voucher signature rates of the same run; writes bench/results/gateway.json and gateway.md. About four minutes
# on 2 cores. Options pass through, e.g. `bench/gateway/run.sh --concurrency 128 --duration 10` (--leases, --slots,
# --latency-requests, --latency-warmup, --jit-warmup, --warmup, --repetitions, --store memory|sqlite, --vouchers,
# --signature-duration).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

dotnet build bench/OrleansCompute.Bench/OrleansCompute.Bench.csproj -c Release --nologo -v quiet
dotnet bench/OrleansCompute.Bench/bin/Release/net10.0/OrleansCompute.Bench.dll gateway \
  --results bench/results --command "bench/gateway/run.sh${*:+ $*}" "$@"
