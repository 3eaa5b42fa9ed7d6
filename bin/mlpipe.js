#!/usr/bin/env node
// Entry point of the `mlpipe` command. The sources are TypeScript run through tsx's loader,
// so there is no build step between a `git pull` and a working CLI.
import { register } from 'tsx/esm/api';

register();
// First, before anything else runs: `dev`, `worker` and `serve` load TensorFlow quietly.
const { startNativeQuietly } = await import('../src/cli/native-start.ts');
await startNativeQuietly(process.argv);
// `mlpipe … | head`: the reader went away; stop quietly instead of crashing on EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
