// Prints what mlpipe's backend selection picks in a fresh process, and runs one op on it:
//   RESULT {"backend":...}  or  ERROR <message>, then LOADED <the packages whose libtensorflow
//   this process mapped>  (exit 0 either way; stderr is TensorFlow's and mlpipe's)
//   node --import tsx scripts/native/select-backend.ts [auto|gpu|cpu] [--preload @tensorflow/tfjs-node(-gpu)]
// --preload requires a native package first, as user code may. scripts/test-gpu-route.sh runs it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { selectBackend, type BackendPreference } from '../../src/ml/runtime/backend.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { preload: { type: 'string' } } });
if (values.preload) createRequire(import.meta.url)(values.preload);
try {
  const { tf, info } = selectBackend((positionals[0] ?? 'auto') as BackendPreference);
  tf.tidy(() => tf.ones([2]).add(1).dataSync());
  console.log(`RESULT ${JSON.stringify(info)}`);
} catch (e) {
  console.log(`ERROR ${(e as Error).message}`);
}
const maps = readFileSync('/proc/self/maps', 'utf8');
console.log(`LOADED ${[...new Set(maps.match(/@tensorflow\/tfjs-node(-gpu)?(?=\/deps\/lib\/libtensorflow)/g))].join(' ')}`);
