/**
 * Issue 10 item 7, over real HTTP against real trained models: the model server type-checks every
 * value against the saved transform's input schema (numbers finite in 32 bits, categories from
 * the fitted vocabulary, image shape and pixel range), answering 400 with row and column and not
 * counting it; a non-finite model output is a 500 counted as an error; feedback (`labels`) and
 * the request log (`/recent`) need the bearer token and are off without one.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectCore } from '../../activities/collect.ts';
import { deployCore } from '../../activities/deploy.ts';
import { preprocessCore } from '../../activities/preprocess.ts';
import { trainCore } from '../../activities/train.ts';
import type { ArtifactRef, JsonObject } from '../../src/core/plan.ts';
import { Rng } from '../../src/ml/data/rng.ts';
import { Registry, registryDir } from '../../src/serving/registry.ts';
import { ModelServer } from '../../src/serving/server.ts';
import { collectInput, stageInput, tempDir } from '../support/data.ts';
import { ref } from '../support/pipelines.ts';
import { bearer, deployInput, get, irisArtifacts, post, waitRevision } from '../support/serving.ts';

const TOKEN = 'input-test-token-0123456789abcdef';
let a: Awaited<ReturnType<typeof irisArtifacts>>;
let registry: Registry;
let server: ModelServer;
let open: ModelServer; // the same registry, served without a token
let base: string;
const iris = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const dense2 = (extra: JsonObject[] = []): JsonObject => ({
  model: { layers: [...extra, { type: 'dense', units: 2, activation: 'softmax' }] },
  optimizer: { type: 'adam', learningRate: 0.05 },
  loss: 'sparseCategoricalCrossentropy',
  epochs: 3,
  seed: 1,
});

/** collect → preprocess → train → deploy of one more model into the test's registry. */
async function deployModel(name: string, collect: JsonObject, steps: object[], train: JsonObject, baseDir?: string): Promise<void> {
  const c = await collectCore(collectInput(collect, baseDir, a.workflowId), a.env);
  const p = await preprocessCore(stageInput('preprocess', { steps } as JsonObject, { dataset: ref(c, 'dataset') }, a.workflowId), a.env);
  const t = await trainCore(stageInput('train', train, { dataset: ref(p, 'dataset') }, a.workflowId), a.env);
  const inputs: Record<string, ArtifactRef> = { model: ref(t, 'model'), transform: ref(p, 'transform') };
  await deployCore(deployInput({ modelName: name }, inputs, a.workflowId, `deploy-${name}`), a.env, { registry, autostart: false });
}

beforeAll(async () => {
  a = await irisArtifacts('input/run-1');
  registry = new Registry(registryDir(a.home));
  await deployCore(deployInput({ modelName: 'iris' }, { model: await a.train(), transform: a.transform }, a.workflowId), a.env, {
    registry,
    autostart: false,
  });
  // A category feature (one-hot encoded) next to a number.
  const dir = tempDir();
  const rng = new Rng(3);
  const colors = ['red', 'green', 'blue'];
  writeFileSync(
    join(dir, 'c.json'),
    JSON.stringify(Array.from({ length: 90 }, (_, i) => ({ x: rng.normal() + (i % 2), color: colors[i % 3], y: i % 2 }))),
  );
  await deployModel(
    'colors',
    {
      source: { type: 'json', path: 'c.json' },
      schema: {
        label: 'y',
        columns: [
          { name: 'x', type: 'number' },
          { name: 'color', type: 'category' },
          { name: 'y', type: 'integer' },
        ],
      },
    },
    [
      { type: 'oneHot', columns: ['color'] },
      { type: 'split', train: 0.8, test: 0.2, seed: 1 },
    ],
    dense2(),
    dir,
  );
  // 4x4 one-channel images with pixels in [0, 1].
  await deployModel(
    'images',
    { source: { type: 'synthetic', generator: 'images', samples: 60, classes: 2, imageSize: 4, seed: 2 } },
    [{ type: 'split', train: 0.8, test: 0.2, seed: 1 }],
    dense2([{ type: 'flatten' }]),
  );
  server = new ModelServer({ registry, store: a.env.store, pollMs: 50, authToken: TOKEN });
  base = await server.start();
  open = new ModelServer({ registry, store: a.env.store, pollMs: 50, advertise: false });
  await open.start();
  for (const m of ['iris', 'colors', 'images']) {
    await waitRevision(base, m, 1);
    await waitRevision(open.url, m, 1);
  }
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await open?.stop();
});

const predict = (model: string, body: unknown, headers?: Record<string, string>) =>
  post(`${base}/v1/models/${model}:predict`, body, headers);
const metricsOf = async (model: string) => (await get(`${base}/v1/models/${model}/metrics`)).versions.v1 ?? { requests: 0, errors: 0 };

describe('model server input checks', () => {
  it('numbers: a boolean, an array, a string, 1e999 or a value beyond float32 is a 400 naming row and column, not counted', async () => {
    const before = await metricsOf('iris');
    const cases: [string, string, RegExp][] = [
      ['true', 'petal_width', /true is a boolean; send a number/],
      ['[1]', 'petal_width', /\[1\] is an array; send a number/],
      ['"0.2"', 'petal_width', /"0.2" is a string; send a number/],
      ['1e999', 'petal_width', /Infinity is not a finite 32-bit number/],
      ['1e39', 'petal_width', /1e\+39 is not a finite 32-bit number/],
      ['{}', 'petal_width', /\{\} is not a number; send a number/],
    ];
    for (const [raw, col, why] of cases) {
      const body = `{"instances": [${JSON.stringify(iris)}, ${JSON.stringify(iris).replace(/"petal_width":0.2/, `"${col}":${raw}`)}]}`;
      const r = await predict('iris', body);
      expect(r.status, raw).toBe(400);
      expect(r.json.error).toMatch(new RegExp(`^row 2, column "${col}": `));
      expect(r.json.error).toMatch(why);
    }
    expect(await metricsOf('iris')).toMatchObject({ requests: before.requests, errors: before.errors });
    expect((await predict('iris', { instances: [iris] })).status).toBe(200);
  });

  it('categories: only values of the fitted vocabulary', async () => {
    expect((await predict('colors', { instances: [{ x: 0.5, color: 'green' }] })).status).toBe(200);
    const purple = await predict('colors', {
      instances: [
        { x: 0.5, color: 'green' },
        { x: 1, color: 'purple' },
      ],
    });
    expect(purple.status).toBe(400);
    expect(purple.json.error).toBe('row 2, column "color": "purple" is not one of the values seen in training ("blue", "green", "red")');
    const bool = await predict('colors', { instances: [{ x: 0.5, color: true }] });
    expect(bool.status).toBe(400);
    expect(bool.json.error).toMatch(/^row 1, column "color": true is not a category value; send a string/);
  });

  it("images: the column's shape (nested or flat) and the pixel range seen in training", async () => {
    const img = Array.from({ length: 4 }, (_, y) => Array.from({ length: 4 }, (_, x) => [((x + y) % 4) / 4]));
    expect((await predict('images', { instances: [{ image: img }] })).status).toBe(200);
    expect((await predict('images', { instances: [{ image: img.flat(2) }] })).status).toBe(200);
    const bad: [unknown, RegExp][] = [
      [img.slice(0, 3), /needs an array of shape \[4, 4, 1\] \(or 16 numbers flat\); got 3 entries where 4 entries belong/],
      [img.flat(2).slice(1), /got 15 entries where 4 entries belong/],
      [img.map((r, y) => (y === 2 ? [...r.slice(0, 3), [0.5, 0.5]] : r)), /got 2 entries at \[2\]\[3\] where 1 entries belong/],
      [
        img.map((r) => r.map(([v]) => [v! * 255])),
        /value 1: 63.75 is outside the range seen in training \[0, 1\]; scale it as the training data was/,
      ],
      [img.map((r) => r.map(() => ['0.5'])), /value 0: "0.5" is a string; send a number/],
      ['pixels', /"pixels" is not an array/],
    ];
    for (const [image, why] of bad) {
      const r = await predict('images', { instances: [{ image }] });
      expect(r.status, JSON.stringify(image).slice(0, 60)).toBe(400);
      expect(r.json.error).toMatch(/^row 1, column "image": /);
      expect(r.json.error).toMatch(why);
    }
    const pix = await predict('images', `{"instances": [{"image": [${Array(15).fill(0.5).join(',')}, 1e999]}]}`);
    expect(pix.status).toBe(400);
    expect(pix.json.error).toBe('row 1, column "image": value 15: Infinity is not a finite 32-bit number; send a number within ±3.4e38');
  });

  it('a non-finite model output is a 500 counted as an error, not a 200 with label 0', async () => {
    const before = await metricsOf('iris');
    // Finite in float32, but standardized past its range: the model's output is NaN.
    const r = await predict('iris', { instances: [iris, { ...iris, petal_length: 3e38, sepal_length: -3e38 }] });
    expect(r.status).toBe(500);
    expect(r.json.error).toMatch(/^version v1: the model's output for row 2 is not a finite number/);
    expect(await metricsOf('iris')).toMatchObject({ requests: before.requests + 1, errors: before.errors + 1 });
  });
});

describe('feedback and the request log need the token', () => {
  it('with a token: 401 without it or with another one, and nothing is counted; accepted with it', async () => {
    const before = await metricsOf('iris');
    const body = { instances: [iris], labels: ['virginica'] };
    const none = await predict('iris', body);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="mlpipe"');
    expect(none.json.error).toMatch(/feedback \(`labels`\) needs the header "Authorization: Bearer <token>"/);
    expect((await predict('iris', body, bearer(`${TOKEN}x`))).status).toBe(401);
    expect((await predict('iris', body, { authorization: TOKEN })).status).toBe(401);
    expect(await metricsOf('iris')).toMatchObject({ requests: before.requests, labelled: before.labelled ?? 0 });
    expect((await predict('iris', body, bearer(TOKEN))).status).toBe(200);
    expect((await metricsOf('iris')).labelled).toBe((before.labelled ?? 0) + 1);
    const wrongShape = await predict('iris', { instances: [iris], labels: 'virginica' }, bearer(TOKEN));
    expect(wrongShape.status).toBe(400);

    const recent = await fetch(`${base}/v1/models/iris/recent`);
    expect(recent.status).toBe(401);
    expect(JSON.stringify(await recent.json())).not.toMatch(/sepal/);
    const ok = await get(`${base}/v1/models/iris/recent`, bearer(TOKEN));
    expect(ok.rows.at(-1).row).toEqual(iris);
  });

  it('without a token: both are off with a reason; plain predictions still work', async () => {
    const fb = await post(`${open.url}/v1/models/iris:predict`, { instances: [iris], labels: ['setosa'] }, bearer(TOKEN));
    expect(fb.status).toBe(403);
    expect(fb.json.error).toMatch(
      /feedback \(`labels`\) is disabled: this server has no auth token; start it with --auth-token-file <file>/,
    );
    const recent = await fetch(`${open.url}/v1/models/iris/recent`, { headers: bearer(TOKEN) });
    expect(recent.status).toBe(403);
    expect(((await recent.json()) as { error: string }).error).toMatch(/the request log \(\/recent: raw rows as sent\) is disabled/);
    expect((await post(`${open.url}/v1/models/iris:predict`, { instances: [iris] })).status).toBe(200);
  });
});
