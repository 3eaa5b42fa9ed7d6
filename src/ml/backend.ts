// The one place that picks the TensorFlow.js backend. Everything in src/ml takes its `tf` from
// here, so there is never a second copy of tfjs-core (an ESM/CJS double load would register the
// native backend in one copy and run ops in the other).
//
// Order (preference `auto`): tfjs-node-gpu when installed and a CUDA device initialises, else
// tfjs-node (native TensorFlow on CPU), else pure-JS tfjs with a loud warning. See
// docs/native-tensorflow.md.
import { createRequire } from 'node:module';
import type * as TfModule from '@tensorflow/tfjs';
import { installNativeGradients } from './native-kernels.ts';

export type Tf = typeof TfModule;
export type BackendPreference = 'auto' | 'gpu' | 'cpu' | 'js';
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'cpu-js';

/** Recorded with every training result. */
export interface BackendInfo {
  backend: BackendName;
  /** Version of the TensorFlow C library behind the native backend; null for pure JS. */
  tfVersion: string | null;
  tfjsVersion: string;
}

export interface SelectedBackend {
  tf: Tf;
  info: BackendInfo;
}

const require = createRequire(import.meta.url);
const FIX = 'run `npm run setup` (or `bash scripts/setup-native.sh`) to build the native TensorFlow backend';

let selected: SelectedBackend | undefined;
let selectedFor: BackendPreference | undefined;
let warned = false;

interface NativeBinding {
  TF_Version: string;
  isUsingGpuDevice(): boolean;
}

function preferenceFromEnv(): BackendPreference {
  const v = (process.env.MLPIPE_TF_BACKEND ?? 'auto').toLowerCase();
  if (v === 'auto' || v === 'gpu' || v === 'cpu' || v === 'js') return v;
  throw new Error(`MLPIPE_TF_BACKEND=${v} is not one of auto, gpu, cpu, js`);
}

function binding(tf: Tf): NativeBinding {
  return (tf.backend() as unknown as { binding: NativeBinding }).binding;
}

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
}

function tryNative(pkg: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu'): Tf | string {
  try {
    require.resolve(pkg);
  } catch {
    return `${pkg} is not installed`;
  }
  try {
    const tf = require(pkg) as Tf;
    if (tf.getBackend() !== 'tensorflow' && !tf.findBackend('tensorflow')) {
      return `${pkg} loaded but registered no 'tensorflow' backend`;
    }
    tf.setBackend('tensorflow');
    tf.tidy(() => tf.ones([2]).add(1).dataSync()); // the addon and libtensorflow really work
    if (process.env.MLPIPE_TF_NATIVE_GRADIENTS !== '0') installNativeGradients(tf);
    return tf;
  } catch (e) {
    return `${pkg} failed to load: ${errorText(e)}`;
  }
}

function pureJs(reasons: string[], quiet: boolean): SelectedBackend {
  const tf = require('@tensorflow/tfjs') as Tf;
  // Guard against a native backend left registered by an earlier load in this process.
  tf.setBackend('cpu');
  if (!quiet && !warned) {
    warned = true;
    const bar = '!'.repeat(78);
    console.warn(
      `${bar}\nmlpipe: TensorFlow native backend unavailable; training on PURE JAVASCRIPT ` +
        `(about 250x slower).\n  ${reasons.join('\n  ')}\n  Fix: ${FIX}.\n${bar}`,
    );
  }
  return { tf, info: { backend: 'cpu-js', tfVersion: null, tfjsVersion: tf.version_core } };
}

/**
 * Select (once per process) and return the backend. `preference`: `auto` as above; `gpu` fails
 * unless a CUDA device initialises; `cpu` never uses the GPU package; `js` forces pure JS
 * (benchmarks, comparisons). Defaults to MLPIPE_TF_BACKEND or `auto`.
 */
export function selectBackend(preference: BackendPreference = preferenceFromEnv()): SelectedBackend {
  if (selected && selectedFor === preference) return selected;
  // Quiet TensorFlow's C++ logging unless the user asked for it; must precede the library load.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  const reasons: string[] = [];
  let result: SelectedBackend | undefined;

  if (preference === 'js') {
    result = pureJs(['MLPIPE_TF_BACKEND/preference is js'], true);
  }
  if (!result && (preference === 'auto' || preference === 'gpu')) {
    const gpu = tryNative('@tensorflow/tfjs-node-gpu');
    if (typeof gpu !== 'string' && binding(gpu).isUsingGpuDevice()) {
      result = { tf: gpu, info: nativeInfo(gpu, 'tensorflow-gpu') };
    } else {
      const why = typeof gpu === 'string' ? gpu : '@tensorflow/tfjs-node-gpu loaded but no CUDA device initialised';
      if (preference === 'gpu') {
        throw new Error(
          `GPU training was requested but is unavailable: ${why}. Fix: install @tensorflow/tfjs-node-gpu ` +
            'with CUDA/cuDNN as in docs/native-tensorflow.md (GPU route), or set the preference to auto/cpu.',
        );
      }
      if (typeof gpu !== 'string') {
        // The GPU package owns the 'tensorflow' backend now; it runs on the CPU just as well.
        result = { tf: gpu, info: nativeInfo(gpu, 'tensorflow') };
      }
      reasons.push(why);
    }
  }
  if (!result) {
    const cpu = tryNative('@tensorflow/tfjs-node');
    if (typeof cpu !== 'string') result = { tf: cpu, info: nativeInfo(cpu, 'tensorflow') };
    else reasons.push(cpu);
  }
  result ??= pureJs(reasons, false);
  selected = result;
  selectedFor = preference;
  return result;
}

function nativeInfo(tf: Tf, backend: BackendName): BackendInfo {
  return { backend, tfVersion: binding(tf).TF_Version, tfjsVersion: tf.version_core };
}

/** The `tf` module of the selected backend (selecting with the default preference if needed). */
export function getTf(): Tf {
  return (selected ?? selectBackend()).tf;
}

/** What to record with a training result. */
export function backendInfo(): BackendInfo {
  return { ...(selected ?? selectBackend()).info };
}
