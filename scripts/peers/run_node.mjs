#!/usr/bin/env node
// Runs a WASI preview1 command module on Node's node:wasi, the peer host that scripts/compare-wasi
// and scripts/peers/bench_poll.py compare `waitset run` against.
//
//     node scripts/peers/run_node.mjs [--env K=V]... [--dir HOST::GUEST]... MODULE [ARGS...]
//
// stdin, stdout and stderr are this process's fds 0, 1 and 2; argv is MODULE ARGS...; the
// environment is only the --env pairs (as with `waitset run`). Node's "WASI is experimental"
// warning is silenced so stderr is the guest's own. The exit status is the guest's proc_exit code (0 when _start
// returns); a trap prints the error and exits 134, as `waitset run` does. Only binary .wasm
// modules: Node has no WebAssembly text parser.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import process from 'node:process';

process.removeAllListeners('warning');

let argv = process.argv.slice(2);
const env = {};
const preopens = {};
while (argv.length >= 2 && (argv[0] === '--env' || argv[0] === '--dir')) {
  if (argv[0] === '--env' && argv[1].includes('=')) {
    const i = argv[1].indexOf('=');
    env[argv[1].slice(0, i)] = argv[1].slice(i + 1);
  } else if (argv[0] === '--dir') {
    const [host, guest] = argv[1].split('::');
    preopens[guest ?? host] = host;
  } else {
    break;
  }
  argv = argv.slice(2);
}
const [path, ...rest] = argv;
if (!path) {
  process.stderr.write('usage: run_node.mjs [--env K=V]... MODULE [ARGS...]\n');
  process.exit(2);
}

let module;
try {
  module = await WebAssembly.compile(await readFile(path));
} catch (e) {
  process.stderr.write(`run_node.mjs: ${path}: ${e.message}\n`);
  process.exit(2);
}

const wasi = new WASI({
  version: 'preview1',
  args: [path, ...rest],
  env,
  preopens,
  stdin: 0,
  stdout: 1,
  stderr: 2,
  returnOnExit: true,
});

let code;
try {
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
  code = wasi.start(instance);
} catch (e) {
  process.stderr.write(`run_node.mjs: trap: ${e && e.stack ? e.stack : e}\n`);
  code = 134;
}
process.exitCode = code;
