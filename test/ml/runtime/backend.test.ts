// Backend selection (src/ml/runtime/backend.ts). CI runs scripts/setup-native.sh before the tests, so the
// native addon must be there: a pure-JS fallback here is a failed setup, not a pass.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { backendInfo, getTf, selectBackend } from '../../../src/ml/runtime/backend.ts';
import { expectNativeBackend } from '../../support/ml.ts';

const require = createRequire(import.meta.url);

describe('backend selection', () => {
  it('auto picks native TensorFlow 2.21 (the addon built by scripts/setup-native.sh)', () => {
    const addon = join(dirname(require.resolve('@tensorflow/tfjs-node/package.json')), 'lib/napi-v8/tfjs_binding.node');
    expect(existsSync(addon), `${addon} is missing: run \`bash scripts/setup-native.sh\``).toBe(true);
    const { tf, info } = expectNativeBackend();
    expect(info).toEqual({ backend: 'tensorflow', tfVersion: expect.stringMatching(/^2\.21\./), tfjsVersion: '4.22.0' });
    expect(tf.getBackend()).toBe('tensorflow');
    expect(backendInfo()).toEqual(info);
    expect(process.env.TF_CPP_MIN_LOG_LEVEL).toBeDefined();
    // ops really run natively
    expect(
      Array.from(
        tf.tidy(() =>
          tf
            .matMul(
              tf.eye(2),
              tf.tensor2d([
                [1, 2],
                [3, 4],
              ]),
            )
            .dataSync(),
        ),
      ),
    ).toEqual([1, 2, 3, 4]);
  });

  it('gpu preference without a CUDA device fails with the fix named', () => {
    expect(() => selectBackend('gpu')).toThrow(
      /GPU training was requested but is unavailable: .*tfjs-node-gpu.*docs\/native-tensorflow\.md/,
    );
  });

  it('js preference switches to pure JS quietly, and cpu switches back to native', () => {
    const warn = vi.spyOn(console, 'warn');
    const js = selectBackend('js');
    expect(js.info).toEqual({ backend: 'cpu-js', tfVersion: null, tfjsVersion: '4.22.0' });
    expect(js.tf.getBackend()).toBe('cpu');
    expect(getTf()).toBe(js.tf);
    expect(warn).not.toHaveBeenCalled();
    const cpu = selectBackend('cpu');
    expect(cpu.info.backend).toBe('tensorflow');
    expect(cpu.tf.getBackend()).toBe('tensorflow');
    warn.mockRestore();
  });

  it('rejects an unknown MLPIPE_TF_BACKEND', () => {
    const old = process.env.MLPIPE_TF_BACKEND;
    process.env.MLPIPE_TF_BACKEND = 'tpu';
    try {
      expect(() => selectBackend()).toThrow(/MLPIPE_TF_BACKEND=tpu is not one of auto, gpu, cpu, js/);
    } finally {
      if (old === undefined) delete process.env.MLPIPE_TF_BACKEND;
      else process.env.MLPIPE_TF_BACKEND = old;
    }
  });
});
