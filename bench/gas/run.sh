#!/usr/bin/env bash
# Measures the escrow's gas on a real Anvil and writes bench/results/gas.json and gas.md.
# One command from a clean clone: installs the pinned chain tools (contracts/run.sh), starts a throwaway Anvil on a
# free loopback port, broadcasts contracts/script/GasBench.s.sol to it (forge script), and reads every
# transaction's gasUsed from the receipts forge recorded. See bench/gas/README.md for what is measured.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CONTRACTS="$ROOT/contracts"
RESULTS="$ROOT/bench/results"
REPETITIONS="${GAS_REPETITIONS:-3}"

ANVIL="$("$CONTRACTS/run.sh" bin anvil)"
"$CONTRACTS/run.sh" build >/dev/null

PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
"$ANVIL" --port "$PORT" --host 127.0.0.1 --hardfork prague --max-persisted-states 0 --silent &
ANVIL_PID=$!
trap 'kill "$ANVIL_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    node -e "require('net').connect($PORT,'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))" 2>/dev/null && break
    sleep 0.1
done

OUT="$CONTRACTS/bench-out"
rm -rf "$OUT"
mkdir -p "$OUT" "$RESULTS"
for run in $(seq 1 "$REPETITIONS"); do
    echo "bench/gas: run $run of $REPETITIONS" >&2
    (cd "$CONTRACTS" && FOUNDRY_PROFILE=bench GAS_LABELS="bench-out/labels-$run.txt" \
        "$CONTRACTS/run.sh" forge script script/GasBench.s.sol --rpc-url "http://127.0.0.1:$PORT" \
        --broadcast --slow --skip-simulation >"$OUT/forge-$run.log" 2>&1) ||
        { cat "$OUT/forge-$run.log" >&2; exit 1; }
    cp "$CONTRACTS/broadcast/GasBench.s.sol/31337/run-latest.json" "$OUT/broadcast-$run.json"
done

node "$ROOT/bench/gas/report.cjs" "$OUT" "$REPETITIONS" "$RESULTS" "$CONTRACTS/foundry.toml"
