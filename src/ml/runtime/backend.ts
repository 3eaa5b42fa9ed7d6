// The one place that picks the TensorFlow.js backend. Everything in src/ml takes its `tf` from
// here, so there is never a second copy of tfjs-core (an ESM/CJS double load would register the
// native backend in one copy and run ops in the other).
//
// Order (preference `auto`): tfjs-node-gpu when built and a CUDA device initialises (asked of a
// child process first, ./gpu-probe.ts), else tfjs-node (native TensorFlow on CPU), else pure-JS
// tfjs with a loud warning. One process runs one native package: see docs/native-tensorflow.md.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as TfModule from '@tensorflow/tfjs';
import { installNativeGradients } from './native-kernels.ts';
import { GPU_PACKAGE, probeGpu } from './gpu-probe.ts';
import { setNativeEnvDefaults } from './native-env.ts';

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
const CPU_PACKAGE = '@tensorflow/tfjs-node';
type NativePackage = typeof CPU_PACKAGE | typeof GPU_PACKAGE;

let selected: SelectedBackend | undefined;
let selectedFor: BackendPreference | undefined;
let warned = false;
let warnedGpu = false;

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

/**
 * The native package whose libtensorflow this process has loaded already (by any thread or
 * module), read from the loader's own map. Both bundle a libtensorflow_cc.so.2: a second addon
 * would bind to the first one's library, and its 'tensorflow' backend would never register.
 */
function loadedPackage(): NativePackage | undefined {
  let maps: string;
  try {
    maps = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return undefined; // not Linux: no GPU route there
  }
  const m = /\/@tensorflow\/(tfjs-node(?:-gpu)?)\/deps\/lib\/libtensorflow(?:_cc)?\.so/.exec(maps);
  return m ? (`@tensorflow/${m[1]}` as NativePackage) : undefined;
}

function clash(pkg: NativePackage): string | undefined {
  const other = loadedPackage();
  if (!other || other === pkg) return undefined;
  return `this process already runs TensorFlow from ${other}, and a second native TensorFlow (${pkg}) cannot share it`;
}

function tryNative(pkg: NativePackage): Tf | string {
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
  // Quiet logging and oneDNN on (unless the user chose); must precede the library load.
  setNativeEnvDefaults();
  const reasons: string[] = [];
  let result: SelectedBackend | undefined;

  if (preference === 'js') {
    result = pureJs(['MLPIPE_TF_BACKEND/preference is js'], true);
  }
  if (!result && (preference === 'auto' || preference === 'gpu')) {
    result = selectGpu(preference, reasons);
  }
  if (!result) {
    const why = clash(CPU_PACKAGE);
    if (why) {
      throw new Error(`The CPU backend is unavailable: ${why}. Fix: train on the CPU in a process started with MLPIPE_TF_BACKEND=cpu.`);
    }
    const cpu = tryNative(CPU_PACKAGE);
    if (typeof cpu !== 'string') result = { tf: cpu, info: nativeInfo(cpu, 'tensorflow') };
    else reasons.push(cpu);
  }
  result ??= pureJs(reasons, false);
  selected = result;
  selectedFor = preference;
  return result;
}

/**
 * tfjs-node-gpu when it has a CUDA device; undefined (with the reason added) to go on to the CPU
 * build. `auto` keeps to the native package this process already runs, without probing.
 */
function selectGpu(preference: 'auto' | 'gpu', reasons: string[]): SelectedBackend | undefined {
  const loaded = loadedPackage();
  if (preference === 'auto' && loaded === CPU_PACKAGE) return undefined;
  const probe = loaded === GPU_PACKAGE ? undefined : probeGpu();
  let why: string;
  let fix = 'see docs/native-tensorflow.md (GPU route)';
  if (probe && !probe.ok) {
    ({ reason: why, fix } = probe);
  } else if (loaded === CPU_PACKAGE) {
    why = clash(GPU_PACKAGE)!;
    fix =
      'start the process with MLPIPE_TF_BACKEND=gpu (or auto) so that it loads the GPU build first (docs/native-tensorflow.md, GPU route)';
  } else {
    const gpu = tryNative(GPU_PACKAGE);
    if (typeof gpu === 'string') {
      why = gpu;
    } else if (binding(gpu).isUsingGpuDevice()) {
      return { tf: gpu, info: nativeInfo(gpu, 'tensorflow-gpu') };
    } else if (preference === 'auto') {
      // Loaded here, tfjs-node cannot be any more; the GPU build runs on the CPU just as well.
      console.warn(`mlpipe: ${GPU_PACKAGE} has no CUDA device in this process; training on its CPU device`);
      return { tf: gpu, info: nativeInfo(gpu, 'tensorflow') };
    } else {
      why = `${GPU_PACKAGE} has no CUDA device in this process`;
    }
  }
  if (preference === 'gpu') {
    throw new Error(`GPU training was requested but is unavailable: ${why}. Fix: ${fix}; or set the preference to auto/cpu.`);
  }
  // Built for a GPU but none here: one line. CPU users without the GPU build hear nothing.
  if (probe && !probe.ok && probe.built && !warnedGpu) {
    warnedGpu = true;
    console.warn(`mlpipe: training on the CPU build (${CPU_PACKAGE}): ${why}`);
  }
  reasons.push(why);
  return undefined;
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
