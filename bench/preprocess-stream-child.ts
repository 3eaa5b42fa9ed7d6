// One preprocess run for bench/preprocess-stream.ts, in its own process: argv = store root, input ref (JSON).
import { preprocessCore } from '../activities/preprocess.ts';
import { stageInput, testEnv } from '../test/support/data.ts';
import { PREPROCESS_STEPS } from './preprocess-stream.ts';

async function main() {
  const [root, ref] = process.argv.slice(2);
  const env = testEnv(root!, { heartbeat: () => {} });
  const t0 = performance.now();
  await preprocessCore(stageInput('preprocess', { steps: PREPROCESS_STEPS }, { dataset: JSON.parse(ref!) }), env);
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ seconds, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
}
main();
