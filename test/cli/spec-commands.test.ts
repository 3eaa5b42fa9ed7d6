import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;

function mlpipe(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'bin/mlpipe.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const invalid = 'test/fixtures/invalid/unknown-field-need.yaml';

describe('mlpipe validate', () => {
  it('exits 0 for the example pipelines', () => {
    const r = mlpipe('validate', 'pipelines/');
    expect(r.code).toBe(0);
    const examples = readdirSync(join(root, 'pipelines')).filter((f) => f.endsWith('.yaml')).length;
    expect(examples).toBeGreaterThanOrEqual(6);
    expect(r.out).toContain(`${examples} pipeline files valid`);
  });

  it('exits 1 with a located error, the source line and a hint', () => {
    const r = mlpipe('validate', invalid);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${invalid}:12:5: error: unknown field \`need\` in stage \`prep\` [schema.unknown-field]`);
    expect(r.out).toContain('  12 |     need: [data]');
    expect(r.out).toContain('hint: did you mean `needs`?');
  });

  it('prints JSON for machines', () => {
    const r = mlpipe('validate', '--format', 'json', invalid, 'pipelines/iris-mlp.yaml');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.out);
    expect(out.valid).toBe(false);
    expect(out.files.map((f: { valid: boolean }) => f.valid)).toEqual([false, true]);
    expect(out.files[0].diagnostics[0]).toMatchObject({ line: 12, column: 5, code: 'schema.unknown-field', hint: 'did you mean `needs`?' });
  });

  it('prints GitHub Actions annotations', () => {
    const r = mlpipe('validate', '--format', 'github', invalid);
    expect(r.code).toBe(1);
    expect(r.out.trim()).toBe(
      `::error file=${invalid},line=12,col=5,title=mlpipe schema.unknown-field::unknown field \`need\` in ` +
        `stage \`prep\` (did you mean \`needs\`?)`,
    );
  });

  it('exits 2 on usage errors', () => {
    expect(mlpipe('validate', 'no/such/file.yaml').code).toBe(2);
    expect(mlpipe('validate', '--format', 'xml', 'pipelines/').code).toBe(2);
    expect(mlpipe('validate').code).toBe(2);
    const empty = mkdtempSync(join(tmpdir(), 'mlpipe-'));
    expect(mlpipe('validate', empty).err).toMatch(/no \.yaml or \.yml files/);
  });

  it('refuses a credential written into the file without printing it, in every format', () => {
    const f = 'test/fixtures/invalid/literal-auth-header.yaml';
    for (const format of ['human', 'json', 'github']) {
      const r = mlpipe('validate', '--format', format, f);
      expect(r.code).toBe(1);
      expect(r.out).toContain('security.literal-secret');
      expect(r.out + r.err).not.toContain('tok-5e1f9a2c');
    }
    expect(mlpipe('validate', f).out).toContain('  9 | (not shown: the line holds a credential)');
  });

  it('refuses an oversized file before parsing it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-'));
    const f = join(dir, 'big.yaml');
    writeFileSync(f, `apiVersion: mlpipe/v1\n# ${'x'.repeat(1024 * 1024)}\n`);
    const r = mlpipe('validate', '--format', 'json', f);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).files[0].diagnostics[0].code).toBe('yaml.too-large');
  });
});

describe('mlpipe plan, graph, schema, --version, --help', () => {
  it('plan prints the compiled plan with params applied', () => {
    const r = mlpipe('plan', 'pipelines/iris-mlp.yaml', '--param', 'epochs=5');
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.out);
    expect(plan.pipeline).toBe('iris-mlp');
    expect(plan.params.epochs).toBe(5);
    expect(plan.nodes.find((n: { id: string }) => n.id === 'train').config.epochs).toBe(5);
  });

  it('plan exits 2 on a --param the pipeline does not declare, and 1 on an invalid file', () => {
    const r = mlpipe('plan', 'pipelines/iris-mlp.yaml', '--param', 'epoch=5');
    expect(r.code).toBe(2);
    expect(r.err).toContain('did you mean `epochs`?');
    const bad = mlpipe('plan', invalid);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(':12:5:');
  });

  it('graph prints Mermaid, DOT and levels', () => {
    const r = mlpipe('graph', 'pipelines/lifecycle.yaml');
    expect(r.code).toBe(0);
    expect(r.out).toContain('flowchart TD');
    expect(r.out).toContain('evaluate -.-> deploy');
    expect(r.out).toContain('"prep" -> "train";');
    expect(r.out).toContain('"tune" -> "train";'); // the final train takes the tuned params
    expect(r.out).toContain('level 2: tune\nlevel 3: train');
  });

  it('schema prints the JSON Schema', () => {
    const r = mlpipe('schema');
    expect(JSON.parse(r.out).$id).toBe('https://mlpipe.dev/schema/pipeline.schema.json');
  });

  it('--version and --help exit 0', () => {
    expect(mlpipe('--version').out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const h = mlpipe('validate', '--help');
    expect(h.code).toBe(0);
    expect(h.out).toContain('--format <format>');
  });
});
