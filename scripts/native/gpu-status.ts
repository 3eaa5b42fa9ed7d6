// Prints whether @tensorflow/tfjs-node-gpu has a CUDA device here, as mlpipe's backend selection
// sees it (scripts/setup-native.sh --gpu ends with it). Exit 0 either way: a GPU build made on a
// machine without a GPU is still a good build.
import { probeGpu } from '../../src/ml/gpu-probe.ts';

const s = probeGpu();
console.log(s.ok ? `CUDA device: ${s.device} (TensorFlow ${s.tfVersion})` : `${s.reason}\n  fix: ${s.fix}`);
