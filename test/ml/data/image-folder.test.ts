// The imageFolder source on real images: MNIST digits from the `mnist` package written as a
// class-per-folder PNG tree (tfjs-node's encodePng), decoded natively. The pixels must be the
// digits' own, the example pipeline's LeNet must reach the accuracy it reaches on the same digits
// from the built-in `mnist` source, and bad files are named by path.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectCore } from '../../../activities/collect.ts';
import type { ArtifactRef } from '../../../src/core/plan.ts';
import { loadMnist } from '../../../src/ml/data/mnist.ts';
import { writeImageFolder } from '../../../src/ml/data/images.ts';
import { getTf } from '../../../src/ml/runtime/backend.ts';
import { column, decodeDataset, isNumeric, type Dataset, type NumericColumn } from '../../../src/ml/data/dataset.ts';
import { collectInput, tempDir, testEnv } from '../../support/data.ts';
import { runPlanFile } from '../../support/run-plan.ts';

const N = 3000;
const EXAMPLE = resolve('pipelines/digits-folder.yaml');

async function collect(config: Record<string, unknown>, baseDir: string): Promise<Dataset> {
  const env = testEnv();
  const out = await collectCore(collectInput(config, baseDir), env);
  return decodeDataset(await env.store.get(out.outputs.dataset as unknown as ArtifactRef));
}

const source = (over: Record<string, unknown> = {}) => ({ source: { type: 'imageFolder', path: 'digits', size: [28, 28], ...over } });

describe('collect: a class-per-folder image tree', () => {
  let dir: string;
  let mnist: Dataset;
  beforeAll(async () => {
    dir = tempDir();
    mnist = await loadMnist(N);
    await writeImageFolder(mnist, join(dir, 'digits'));
  }, 120_000);

  it('decodes every PNG to the digit it was written from, labels = sorted subfolders', { timeout: 60_000 }, async () => {
    const ds = await collect(source(), dir);
    expect(ds.rows).toBe(N);
    expect(ds.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const img = column(ds, 'image') as NumericColumn;
    expect(img.shape).toEqual([28, 28, 1]);
    // Files are `<label>/<mnist row>.png`, read class by class in name order.
    const want = column(mnist, 'image') as NumericColumn;
    const wantLabel = column(mnist, 'label') as NumericColumn;
    const rows = Array.from({ length: N }, (_, i) => i).sort((a, b) => wantLabel.data[a]! - wantLabel.data[b]! || a - b);
    let worst = 0;
    rows.forEach((src, i) => {
      for (let k = 0; k < 784; k++) worst = Math.max(worst, Math.abs(img.data[i * 784 + k]! - want.data[src * 784 + k]!));
    });
    expect(worst, 'PNG holds 8-bit grey levels: at most half a level off').toBeLessThanOrEqual(0.5 / 255 + 1e-6);
    expect(Array.from((column(ds, 'label') as NumericColumn).data)).toEqual(rows.map((r) => wantLabel.data[r]));
    const counts: Record<string, number> = {};
    for (const l of wantLabel.data) counts[String(l)] = (counts[String(l)] ?? 0) + 1;
    expect(ds.stats!.classHistogram).toEqual(counts);
  });

  it('trains the example LeNet from the folder to the accuracy it reaches from the built-in mnist source', {
    timeout: 600_000,
  }, async () => {
    process.env.MLPIPE_HOME = tempDir();
    const work = tempDir();
    copyFileSync(EXAMPLE, join(work, 'digits-folder.yaml'));
    mkdirSync(join(work, 'data'));
    await writeImageFolder(mnist, join(work, 'data', 'digits'));
    const yaml = readFileSync(EXAMPLE, 'utf8');
    const fromMnist = yaml.replace(/source: \{ type: imageFolder[^}]*\}/, `source: { type: mnist, limit: ${N} }`);
    expect(fromMnist).not.toBe(yaml);
    writeFileSync(join(work, 'mnist.yaml'), fromMnist);
    const params = { epochs: '4', minAccuracy: '0.85' };
    const folder = await runPlanFile(join(work, 'digits-folder.yaml'), params, testEnv(), 'examples/digits-folder');
    const builtIn = await runPlanFile(join(work, 'mnist.yaml'), params, testEnv(), 'examples/digits-mnist');
    const [a, b] = [folder.evaluate!.outputs.accuracy as number, builtIn.evaluate!.outputs.accuracy as number];
    console.log(`LeNet on ${N} digits, 4 epochs: test accuracy ${a} from the PNG folder, ${b} from the mnist source`);
    expect(folder.data!.outputs.rows).toBe(N);
    expect(folder.evaluate!.outputs.passed).toBe(true);
    // Same digits, different row order (folders group them by class), so different splits: close, not equal.
    expect(Math.abs(a - b)).toBeLessThanOrEqual(0.03);
  });

  it('decodes JPEG (grey and RGB) too, close to the pixels it was written from', { timeout: 60_000 }, async () => {
    const tf = getTf();
    const node = (tf as unknown as { node: { encodeJpeg(t: unknown, format: string, quality: number): Promise<Uint8Array> } }).node;
    const jpg = tempDir();
    const want = column(mnist, 'image') as NumericColumn;
    const labels = column(mnist, 'label') as NumericColumn;
    for (let i = 0; i < 4; i++) {
      mkdirSync(join(jpg, 'grey', `c${labels.data[i]}`), { recursive: true });
      mkdirSync(join(jpg, 'rgb', `c${labels.data[i]}`), { recursive: true });
      const grey = tf.tidy(() =>
        tf
          .tensor3d(want.data.subarray(i * 784, (i + 1) * 784), [28, 28, 1])
          .mul(255)
          .round()
          .toInt(),
      );
      const rgb = tf.tidy(() => tf.tile(grey, [1, 1, 3]));
      writeFileSync(join(jpg, 'grey', `c${labels.data[i]}`, `${i}.jpg`), await node.encodeJpeg(grey, 'grayscale', 95));
      writeFileSync(join(jpg, 'rgb', `c${labels.data[i]}`, `${i}.JPEG`), await node.encodeJpeg(rgb, 'rgb', 95));
      tf.dispose([grey, rgb]);
    }
    const grey = await collect({ source: { type: 'imageFolder', path: 'grey', size: [28, 28] } }, jpg);
    const rgb = await collect({ source: { type: 'imageFolder', path: 'rgb', size: [28, 28], channels: 3 } }, jpg);
    expect(grey.rows).toBe(4);
    expect((column(rgb, 'image') as NumericColumn).shape).toEqual([28, 28, 3]);
    // JPEG is lossy: the mean error stays small (a wrong decode, e.g. transposed, would be ~0.2).
    const g = column(grey, 'image') as NumericColumn;
    const byFile = grey.classes!.flatMap((c) => [0, 1, 2, 3].filter((i) => `c${labels.data[i]}` === c));
    let err = 0;
    byFile.forEach((src, row) => {
      for (let k = 0; k < 784; k++) err += Math.abs(g.data[row * 784 + k]! - want.data[src * 784 + k]!);
    });
    expect(err / (4 * 784)).toBeLessThan(0.02);
  });

  it('names a corrupt file, a wrong size or channel count, and scales with resize', { timeout: 60_000 }, async () => {
    const bad = tempDir();
    const small = await loadMnist(20);
    await writeImageFolder(small, join(bad, 'digits'));
    const first = (d: string) => join(bad, 'digits', d);
    // a truncated PNG among good ones
    const victim = join(first('3'), 'broken.png');
    writeFileSync(victim, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
    await expect(collect(source(), bad)).rejects.toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(
        /^collect stage "collect": digits\/3\/broken\.png is not a readable PNG or JPEG \(.*\); replace or remove the file$/,
      ),
    });
    writeFileSync(victim, 'not an image at all');
    await expect(collect(source(), bad)).rejects.toThrow(/digits\/3\/broken\.png is not a readable PNG or JPEG/);
    // repaired (a good digit in its place); then the wrong size: refused with the fix, or scaled
    writeFileSync(victim, readFileSync(join(first('3'), readdirSync(first('3')).sort()[0]!)));
    await expect(collect(source({ size: [32, 32] }), bad)).rejects.toThrow(
      /digits\/0\/\d{5}\.png is 28x28 \(height x width\), the source declares size \[32, 32\]; set resize: true to scale it, or fix the image/,
    );
    const scaled = await collect(source({ size: [14, 14], resize: true }), bad);
    expect((column(scaled, 'image') as NumericColumn).shape).toEqual([14, 14, 1]);
    await expect(collect(source({ channels: 3 }), bad)).rejects.toThrow(
      /digits\/0\/\d{5}\.png has 1 channel, the source declares channels: 3; convert the image or change channels/,
    );
    expect(isNumeric(column(scaled, 'label'))).toBe(true);
    // a folder without class subfolders, a class without images, too many files
    mkdirSync(join(bad, 'empty'));
    await expect(collect({ source: { type: 'imageFolder', path: 'empty', size: [28, 28] } }, bad)).rejects.toThrow(
      "empty has no class subfolders; put each class's images in empty/<class name>/",
    );
    await expect(collect(source({ maxFiles: 15 }), bad)).rejects.toThrow('digits holds more than 15 images; raise source.maxFiles');
    await expect(collect(source({ size: [20_000, 20_000], resize: true }), bad)).rejects.toThrow(
      /one image of 20000x20000x1 needs 1526 MiB as float32, over the 256 MiB an image may take; declare a smaller size/,
    );
    mkdirSync(join(bad, 'digits', 'x'));
    await expect(collect(source(), bad)).rejects.toThrow(
      "digits/x holds no .png, .jpg or .jpeg files; add the class's images or remove the folder",
    );
  });
});
