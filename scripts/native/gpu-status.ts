// Says whether @tensorflow/tfjs-node-gpu gets a CUDA device here, as mlpipe's backend selection
// sees it. `scripts/setup-native.sh --gpu` ends with it (a GPU build made on a machine without a
// GPU is still a good build: exit 0); `--require` exits 1 without a device (scripts/gpu-check.sh).
import { probeGpu } from '../../src/ml/runtime/gpu-probe.ts';

const s = probeGpu();
if (s.ok) {
  console.log(`CUDA device: ${s.device} (TensorFlow ${s.tfVersion})`);
} else {
  console.log(`${process.argv.includes('--require') ? 'ERROR' : 'note'}: ${s.reason}\n  fix: ${s.fix}`);
  if (process.argv.includes('--require')) process.exitCode = 1;
}
