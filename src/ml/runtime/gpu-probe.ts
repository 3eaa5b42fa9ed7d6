// Whether @tensorflow/tfjs-node-gpu gets a CUDA device here, decided in a child process.
//
// Why a child: both native packages bundle a libtensorflow with the same soname
// (libtensorflow_cc.so.2), so once one is loaded the other's addon would bind to it, and both
// register the same 'tensorflow' backend in the one tfjs-core. A process therefore runs exactly
// one of them, and must know which before loading either: if the GPU build finds no CUDA device,
// `auto` trains on tfjs-node, which it could no longer load after the GPU build. See
// docs/native-tensorflow.md (GPU route).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const GPU_PACKAGE = '@tensorflow/tfjs-node-gpu';

export type GpuStatus =
  | { ok: true; tfVersion: string; device: string }
  /** `built: false`: not installed or its addon not built (the default after `npm ci`). */
  | { ok: false; built: boolean; reason: string; fix: string };

const require = createRequire(import.meta.url);
// What the probe child runs: load the package, run an op, say where it ran.
const PROBE = `
const tf = require(process.argv[1]);
tf.tidy(() => tf.ones([2]).add(1).dataSync());
const b = tf.backend().binding;
process.stdout.write(JSON.stringify({ tfVersion: b.TF_Version, gpu: b.isUsingGpuDevice() }));
`;
// TensorFlow's own words on why CUDA did not come up (its log at level 0 with VLOG 1).
const WHY = [
  /Could not load dynamic library/,
  /failed call to cuInit/,
  /kernel driver does not appear to be running/,
  /Cannot dlopen some GPU libraries/,
  /Ignoring visible gpu device/,
  /driver version is insufficient|no CUDA-capable device/i,
];
const LOG_PREFIX = /^[IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] /;
const DRIVER_FIX =
  'a GPU host needs the NVIDIA driver (525.60.13 or newer for CUDA 12; `nvidia-smi` must list the GPU) ' +
  'and, in a container, the GPU passed in (`docker run --gpus ...`); see docs/native-tensorflow.md (GPU route)';

function packageDir(): string | undefined {
  try {
    return dirname(require.resolve(`${GPU_PACKAGE}/package.json`));
  } catch {
    return undefined;
  }
}

let cached: GpuStatus | undefined;

/** Probes once per process (a child that loads TensorFlow: about a second, more with CUDA). */
export function probeGpu(): GpuStatus {
  cached ??= probeGpuPackage(packageDir());
  return cached;
}

/** Probes the tfjs-node-gpu package in directory `pkg` (undefined: not installed). */
export function probeGpuPackage(pkg: string | undefined): GpuStatus {
  if (!pkg) return { ok: false, built: false, reason: `${GPU_PACKAGE} is not installed`, fix: 'run `npm ci`' };
  // napi v8: what scripts/setup-native.sh builds, and what tfjs picks on Node >= 20.
  if (!existsSync(join(pkg, 'lib/napi-v8/tfjs_binding.node'))) {
    return {
      ok: false,
      built: false,
      reason: `${GPU_PACKAGE} is installed but its addon is not built`,
      fix: 'run `bash scripts/setup-native.sh --gpu` (see docs/native-tensorflow.md, GPU route)',
    };
  }
  const child = spawnSync(process.execPath, ['-e', PROBE, pkg], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 600_000, // CUDA initialisation is seconds; a hung driver must not hang the worker
    env: {
      ...process.env,
      TF_CPP_MIN_LOG_LEVEL: '0',
      TF_CPP_MAX_VLOG_LEVEL: '1',
      TF_FORCE_GPU_ALLOW_GROWTH: 'true', // the probe must not reserve the GPU's memory
    },
  });
  const log = (child.stderr ?? '').split('\n').map((l) => l.replace(LOG_PREFIX, '').trim());
  const out = parse(child.stdout);
  if (!out) {
    const err =
      child.error?.message ??
      log
        .filter((l) => /Error|error:/.test(l))
        .slice(0, 2)
        .join('; ');
    return {
      ok: false,
      built: true,
      reason: `${GPU_PACKAGE} failed to load: ${err || `exit status ${child.status}`}`,
      fix: 'rebuild it with `MLPIPE_NATIVE_FORCE=1 bash scripts/setup-native.sh --gpu`',
    };
  }
  if (out.gpu) {
    const created = log.map((l) => /Created device (\S+) with .*?-> (.*)/.exec(l)).find(Boolean);
    return { ok: true, tfVersion: out.tfVersion, device: created ? `${created[1]} (${created[2]})` : 'GPU' };
  }
  const why = cudaFailure(child.stderr ?? '');
  return {
    ok: false,
    built: true,
    reason: `${GPU_PACKAGE} loaded (TensorFlow ${out.tfVersion}) but no CUDA device initialised${why ? `: ${why}` : ''}`,
    fix: DRIVER_FIX,
  };
}

/** The lines of TensorFlow's log (level 0, VLOG 1) that say why CUDA did not come up, joined. */
export function cudaFailure(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.replace(LOG_PREFIX, '').trim());
  return [...new Set(lines.filter((l) => WHY.some((re) => re.test(l))))].join('; ');
}

function parse(stdout: string | null): { tfVersion: string; gpu: boolean } | undefined {
  try {
    return JSON.parse(stdout ?? '') as { tfVersion: string; gpu: boolean };
  } catch {
    return undefined;
  }
}
