// Turns the receipts of bench/gas/run.sh's forge-script runs into bench/results/gas.json and gas.md.
// Each broadcast transaction is named by the label GasBench.s.sol wrote for it, in the same order.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const [outDir, repetitionsArg, resultsDir, foundryToml] = process.argv.slice(2);
const repetitions = Number(repetitionsArg);

// label -> every gasUsed seen for it; a batch label "name:N" is per N leases.
const samples = new Map();
for (let run = 1; run <= repetitions; run++) {
  const broadcast = JSON.parse(fs.readFileSync(path.join(outDir, `broadcast-${run}.json`), 'utf8'));
  const labels = fs.readFileSync(path.join(outDir, `labels-${run}.txt`), 'utf8').trim().split('\n');
  if (labels.length !== broadcast.transactions.length) {
    throw new Error(`run ${run}: ${labels.length} labels for ${broadcast.transactions.length} transactions`);
  }
  const receipts = new Map(broadcast.receipts.map((r) => [r.transactionHash, r]));
  broadcast.transactions.forEach((tx, i) => {
    const receipt = receipts.get(tx.hash);
    if (!receipt || receipt.status !== '0x1') throw new Error(`run ${run}: ${labels[i]} (${tx.hash}) did not succeed`);
    if (!samples.has(labels[i])) samples.set(labels[i], []);
    samples.get(labels[i]).push(parseInt(receipt.gasUsed, 16));
  });
}

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => { const s = sorted(xs); const m = s.length >> 1; return s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2); };
const p99 = (xs) => { const s = sorted(xs); return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]; };
const get = (label) => { const v = samples.get(label); if (!v) throw new Error(`no samples for ${label}`); return v; };

const toml = fs.readFileSync(foundryToml, 'utf8');
const solc = require(path.join(path.dirname(foundryToml), 'node_modules', 'solc')).version();
const optimizerRuns = Number(/optimizer_runs\s*=\s*(\d+)/.exec(toml)[1]);

const figures = {};
const rows = [];
const erc20 = median(get('erc20_transfer'));
const add = (key, value, what) => { figures[key] = value; rows.push([key, value, what]); };
add('erc20_transfer_gas', erc20, 'baseline: ERC-20 transfer to an account holding credits (one tx)');
add('erc20_transfer_fresh_gas', median(get('erc20_transfer_fresh')), 'baseline: ERC-20 transfer to a fresh account');
add('open_lease_gas', median(get('open_lease')), `openLease in the steady state (recycled channel, deposit drawn from a tenant balance), median of ${get('open_lease').length}`);
add('open_lease_p99_gas', p99(get('open_lease')), 'openLease in the steady state, p99');
add('open_lease_first_gas', median(get('open_lease_first')), `openLease of a first lease (fresh channel, deposit pulled by transferFrom), median of ${get('open_lease_first').length}`);
for (const n of [1, 10, 100]) {
  for (const mix of ['one_provider', 'many_providers']) {
    const total = median(get(`settle_batch_${n}_${mix}:${n}`));
    add(`settle_batch_${n}_${mix}_gas`, total, `settleBatch of ${n} vouchers, ${mix.replace('_', ' ')}, a signature per voucher: whole tx`);
    add(`settle_batch_${n}_${mix}_gas_per_lease`, Math.round(total / n), 'per lease');
  }
}
for (const n of [10, 100]) {
  for (const mix of ['one_provider', 'many_providers']) {
    const total = median(get(`settle_bundle_${n}_${mix}:${n}`));
    add(`settle_bundle_${n}_${mix}_gas`, total, `settleBatch of ${n} vouchers, ${mix.replace('_', ' ')}, one signature over them all (a bundle): whole tx`);
    add(`settle_bundle_${n}_${mix}_gas_per_lease`, Math.round(total / n), 'per lease');
  }
}
// The batch of 100 from ten tenants, ten leases each: ten bundle entries, a signature per tenant.
for (const mix of ['one_provider', 'many_providers']) {
  const total = median(get(`settle_bundles_10x10_${mix}:100`));
  add(`settle_bundles_10x10_${mix}_gas`, total, `settleBatch of 100 vouchers of 10 tenants, 10 each, ${mix.replace('_', ' ')}, one bundle signature per tenant: whole tx`);
  add(`settle_bundles_10x10_${mix}_gas_per_lease`, Math.round(total / 100), 'per lease');
}
// The names issue 4 asks for: settleBatch of 100 leases of the tenant, its vouchers under one signature, and beside
// them the same batch with a signature per voucher.
add('settle_gas_per_lease_batch100_one_provider', figures.settle_bundle_100_one_provider_gas_per_lease, 'per lease, settleBatch of 100, one provider, one bundle signature (target ≤ 10,000)');
add('settle_gas_per_lease_batch100_many_providers', figures.settle_bundle_100_many_providers_gas_per_lease, 'per lease, settleBatch of 100, 100 providers, one bundle signature (target ≤ 14,000)');
add('settle_gas_per_lease_batch100_one_provider_signature_per_lease', figures.settle_batch_100_one_provider_gas_per_lease, 'per lease, settleBatch of 100, one provider, a signature per voucher');
add('settle_gas_per_lease_batch100_many_providers_signature_per_lease', figures.settle_batch_100_many_providers_gas_per_lease, 'per lease, settleBatch of 100, 100 providers, a signature per voucher (target ≤ 14,000)');
for (const [label, what] of [
  ['replay_batch_100', 'the same batch of 100 again (all stale, skipped), a signature per voucher'],
  ['replay_bundle_100', 'the same bundle of 100 again (all stale, skipped)'],
  ['final_batch_100_one_provider', '100 final vouchers (close, refund credited to the tenant balance), one provider, a signature per voucher'],
  ['final_bundle_100_one_provider', '100 final vouchers in one bundle, one provider'],
]) {
  const total = median(get(`${label}:100`));
  add(`${label}_gas`, total, `${what}: whole tx`);
  add(`${label}_gas_per_lease`, Math.round(total / 100), 'per lease');
}

const targets = [
  ['`openLease`, steady state', 'open_lease_gas', 45000],
  ['`settleBatch` of 100, one provider, per lease (one bundle signature)', 'settle_gas_per_lease_batch100_one_provider', 10000],
  ['`settleBatch` of 100, 100 providers, per lease (one bundle signature)', 'settle_gas_per_lease_batch100_many_providers', 14000],
  ['`settleBatch` of 100, one provider, per lease (10 tenants, a bundle signature each)', 'settle_bundles_10x10_one_provider_gas_per_lease', 10000],
  ['`settleBatch` of 100, 100 providers, per lease (10 tenants, a bundle signature each)', 'settle_bundles_10x10_many_providers_gas_per_lease', 14000],
  ['`settleBatch` of 100, one provider, per lease (a signature per voucher)', 'settle_gas_per_lease_batch100_one_provider_signature_per_lease', 10000],
  ['`settleBatch` of 100, 100 providers, per lease (a signature per voucher)', 'settle_gas_per_lease_batch100_many_providers_signature_per_lease', 14000],
];

const machine = { cores: os.cpus().length, memory_gb: Math.round(os.totalmem() / 2 ** 30 * 10) / 10, processor: os.cpus()[0].model.trim() };
const command = 'bench/gas/run.sh';
const json = { ...figures, solc, optimizer_runs: optimizerRuns, repetitions, machine, command };
fs.writeFileSync(path.join(resultsDir, 'gas.json'), JSON.stringify(json, null, 2) + '\n');

const md = [
  '# Escrow gas (bench/gas/run.sh)',
  '',
  `solc ${solc}, optimizer ${optimizerRuns} runs, Anvil (prague) receipts, median of ${repetitions} runs; `
    + `machine: ${machine.cores} cores, ${machine.memory_gb} GB, ${machine.processor}.`,
  'Steady state: tenant, escrow and providers already hold credits, providers registered, unlimited allowance, '
    + 'leases open on recycled channels and draw on a non-zero tenant balance, each lease word written non-zero to '
    + 'non-zero, fee 1%. `open_lease_first_gas`: a fresh channel and a deposit pulled by transferFrom.',
  '',
  '| target (issue 4) | key | gas | met |',
  '| --- | --- | ---: | :---: |',
  ...targets.map(([what, key, limit]) => `| ${what} ≤ ${limit.toLocaleString('en-US')} | \`${key}\` | ${figures[key].toLocaleString('en-US')} | ${figures[key] <= limit ? 'yes' : 'no'} |`),
  '',
  '| figure | gas | × ERC-20 transfer | what |',
  '| --- | ---: | ---: | --- |',
  ...rows.map(([k, v, what]) => `| \`${k}\` | ${v.toLocaleString('en-US')} | ${(v / erc20).toFixed(2)} | ${what} |`),
  '',
];
fs.writeFileSync(path.join(resultsDir, 'gas.md'), md.join('\n'));
process.stdout.write(md.join('\n'));
