#!/usr/bin/env node
// The `solc` command line that forge expects, answered by solc-js (the
// compiler as WebAssembly from npm) so that forge compiles offline.
// forge calls it with `--version`, then with `--standard-json` (input on stdin).
'use strict';

const path = require('path');
const solc = require(path.join(__dirname, 'node_modules', 'solc'));

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

async function main(args) {
  if (args.includes('--version')) {
    process.stdout.write(
      `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`,
    );
    return 0;
  }
  if (!args.includes('--standard-json')) {
    process.stderr.write('solc-js wrapper: only --version and --standard-json are supported\n');
    return 2;
  }
  // forge passes every source's content in the input, so no import callback is needed.
  const output = solc.compile(await readStdin());
  process.stdout.write(output);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`solc-js wrapper: ${err && err.stack || err}\n`); process.exitCode = 1; },
);
