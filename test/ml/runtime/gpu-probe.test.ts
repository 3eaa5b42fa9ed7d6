// The GPU probe (src/ml/runtime/gpu-probe.ts) on packages that are not there, not built, or broken,
// with a real child process each time. The probe of a real GPU build (no CUDA device here, and
// the fallback of `auto`) is in the opt-in scripts/test-gpu-route.sh, which builds it.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cudaFailure, probeGpuPackage } from '../../../src/ml/runtime/gpu-probe.ts';

function fakeInstall(addon?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-gpu-probe-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-node-gpu', main: 'index.js' }));
  writeFileSync(join(dir, 'index.js'), "require('./lib/napi-v8/tfjs_binding.node');\n");
  if (addon !== undefined) {
    mkdirSync(join(dir, 'lib/napi-v8'), { recursive: true });
    writeFileSync(join(dir, 'lib/napi-v8/tfjs_binding.node'), addon);
  }
  return dir;
}

describe('GPU probe', () => {
  it('a package that is not installed is not built, and the fix is npm ci', () => {
    expect(probeGpuPackage(undefined)).toEqual({
      ok: false,
      built: false,
      reason: '@tensorflow/tfjs-node-gpu is not installed',
      fix: 'run `npm ci`',
    });
  });

  it('a package without its addon (as after npm ci) is not built, without starting a child', () => {
    const s = probeGpuPackage(fakeInstall());
    expect(s).toMatchObject({ ok: false, built: false, reason: '@tensorflow/tfjs-node-gpu is installed but its addon is not built' });
    expect(!s.ok && s.fix).toMatch(/bash scripts\/setup-native\.sh --gpu/);
  });

  it('an addon that does not load is reported with the loader error and the rebuild command', { timeout: 60_000 }, () => {
    const s = probeGpuPackage(fakeInstall('not a shared library'));
    expect(s.ok).toBe(false);
    expect(!s.ok && s.built).toBe(true);
    expect(!s.ok && s.reason).toMatch(/^@tensorflow\/tfjs-node-gpu failed to load: .*(invalid ELF header|too short)/);
    expect(!s.ok && s.fix).toMatch(/MLPIPE_NATIVE_FORCE=1 bash scripts\/setup-native\.sh --gpu/);
  });

  it("keeps TensorFlow's own reasons from its log and drops the rest", () => {
    // TensorFlow 2.21's log (level 0, VLOG 1) loading the GPU build on a machine without a driver
    const log = [
      'I0000 00:00:1796106006.847629   12142 cuda_memory_allocator.cc:70] Registering collective allocator factory for NCCL',
      'I0000 00:00:1796106006.850584   12142 dso_loader.cc:144] Could not load dynamic library ' +
        "'libcuda.so.1'; dlerror: libcuda.so.1: cannot open shared object file: No such file or directory",
      'E0000 00:00:1796106006.850606   12142 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA ' +
        'error: Failed call to cuInit: UNKNOWN ERROR (303)',
      'I0000 00:00:1796106006.850635   12142 cuda_diagnostics.cc:145] kernel driver does not appear to be ' +
        'running on this host (vm): /proc/driver/nvidia/version does not exist',
      'I0000 00:00:1796106006.850652   12142 xla_gpu_device.cc:83] Not creating XLA devices, tf_xla_enable_xla_devices not set',
      'E0000 00:00:1796106006.850606   12142 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA ' +
        'error: Failed call to cuInit: UNKNOWN ERROR (303)',
    ].join('\n');
    expect(cudaFailure(log)).toBe(
      "Could not load dynamic library 'libcuda.so.1'; dlerror: libcuda.so.1: cannot open shared object file: No such file or directory; " +
        'failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303); ' +
        'kernel driver does not appear to be running on this host (vm): /proc/driver/nvidia/version does not exist',
    );
    expect(cudaFailure('I0000 00:00:1.0 1 bfc_allocator.cc:89] Creating new BFCAllocator named: mklcpu')).toBe('');
  });
});
