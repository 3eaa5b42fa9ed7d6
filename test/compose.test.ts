// docker-compose.yml and the Dockerfile, checked statically: no Docker engine runs here or in CI.
// The compose file against the Compose Specification's JSON Schema (vendored from
// docker-compose 1.29.2, test/fixtures/compose/), plus what the schema cannot know: pinned images,
// loopback-only ports, and environment names that mlpipe really reads. The Dockerfile through a
// few hadolint-style rules of our own.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../', import.meta.url));
const read = (p: string) => readFileSync(join(root, p), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; target?: string };
  ports?: string[];
  environment?: Record<string, string>;
  command?: string[];
  deploy?: { resources?: { reservations?: { devices?: { driver?: string; capabilities?: string[] }[] } } };
}
const compose = parse(read('docker-compose.yml')) as { name?: string; services: Record<string, Service> };
const services = Object.entries(compose.services);
const mlpipeServices = services.filter(([, s]) => s.build);

/** The vendored schema, compiled. */
function composeValidator() {
  const schema = JSON.parse(read('test/fixtures/compose/compose_spec.json')) as Record<string, unknown>;
  delete schema.$schema; // draft 2019-09 by name, but only draft-07 keywords: Ajv's default draft
  // The schema's draft-04 `id`s (Ajv refuses that keyword) name nothing a $ref uses: ignored.
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.removeKeyword('id');
  ajv.addFormat('duration', /^(\d+(\.\d+)?(us|ms|s|m|h))+$/);
  for (const f of ['ports', 'expose', 'subnet_ip_address']) ajv.addFormat(f, true); // ports: checked below
  return ajv.compile(schema);
}

/** Every TypeScript source mlpipe runs, as one text: an env name it reads appears in it. */
function sources(dir: string): string {
  return readdirSync(join(root, dir))
    .map((n) => join(dir, n))
    .map((p) => (statSync(join(root, p)).isDirectory() ? sources(p) : p.endsWith('.ts') ? read(p) : ''))
    .join('\n');
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    const validate = composeValidator();
    const { name, ...rest } = compose; // Compose v2's top-level `name` is newer than this schema
    const valid = validate(rest);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    expect(name).toMatch(/^[a-z0-9][a-z0-9_-]*$/); // the project-name rule of the current spec
    // and the validator is live: a misspelt key deep in a service is caught
    const broken = structuredClone(rest) as { services: Record<string, { deploy?: Record<string, unknown> }> };
    broken.services['worker-cpu']!.deploy = { replica: 2 };
    expect(validate(broken)).toBe(false);
  });

  it('has the cluster of docs/cluster.md: Temporal, its UI, PostgreSQL, S3, CPU and GPU workers, the model server', () => {
    const images = services.map(([, s]) => s.image ?? '');
    for (const want of ['temporalio/auto-setup:', 'temporalio/ui:', 'postgres:', 'chrislusf/seaweedfs:']) {
      expect(
        images.some((i) => i.startsWith(want)),
        want,
      ).toBe(true);
    }
    const commands = mlpipeServices.map(([, s]) => (s.command ?? []).join(' '));
    expect(commands).toContain('worker --no-gpu-queue');
    expect(commands.some((c) => c.startsWith('serve '))).toBe(true);
    const gpu = mlpipeServices.filter(([, s]) => s.build?.target === 'gpu');
    expect(gpu.length).toBeGreaterThan(0);
    for (const [n, s] of gpu) {
      const devices = s.deploy?.resources?.reservations?.devices ?? [];
      expect(
        devices.some((d) => d.driver === 'nvidia' && d.capabilities?.includes('gpu')),
        n,
      ).toBe(true);
    }
  });

  it('gives every service a pinned image or a build of the Dockerfile', () => {
    for (const [n, s] of services) {
      expect(s.image ?? s.build, n).toBeTruthy();
      if (!s.image) continue;
      const tag = /:([^/:]+)$/.exec(s.image)?.[1];
      expect(tag, `${n}: ${s.image} needs a version tag`).toBeTruthy();
      expect(tag, `${n}: ${s.image}`).not.toBe('latest');
    }
    const stages = [...read('Dockerfile').matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]);
    for (const [n, s] of mlpipeServices) expect(stages, `${n} builds target ${s.build?.target}`).toContain(s.build?.target);
  });

  it('publishes ports on 127.0.0.1 only', () => {
    for (const [n, s] of services) for (const p of s.ports ?? []) expect(String(p), n).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
  });

  it("gives mlpipe's containers only settings mlpipe reads, and the ones a cluster needs", () => {
    const src = sources('src');
    for (const [n, s] of mlpipeServices) {
      const env = s.environment ?? {};
      for (const k of ['MLPIPE_STORE', 'MLPIPE_DB', 'MLPIPE_TEMPORAL_ADDRESS']) expect(Object.keys(env), n).toContain(k);
      for (const k of Object.keys(env)) {
        expect(k, n).toMatch(/^(MLPIPE|AWS)_[A-Z_]+$/);
        expect(src.includes(k), `${n}: ${k} is read nowhere in src/`).toBe(true);
      }
      expect(env.MLPIPE_STORE).toMatch(/^s3:\/\//);
      expect(env.MLPIPE_DB).toMatch(/^postgres:\/\//);
    }
  });
});

/** The Dockerfile's instructions, continuation lines joined, comments dropped, by stage. */
function dockerfile(): { name: string; base: string; lines: [string, string][] }[] {
  const text = read('Dockerfile').replace(/\\\n/g, ' ');
  const stages: { name: string; base: string; lines: [string, string][] }[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [op = '', ...args] = line.split(/\s+/);
    const rest = args.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      stages.push({ base: m[1]!, name: m[2] ?? String(stages.length), lines: [] });
    } else stages.at(-1)!.lines.push([op.toUpperCase(), rest]);
  }
  return stages;
}

describe('Dockerfile', () => {
  const stages = dockerfile();
  const names = new Set(stages.map((s) => s.name));

  it('builds FROM pinned images (a version tag, never latest) or its own stages', () => {
    for (const s of stages) {
      if (names.has(s.base)) continue;
      const tag = /:([^/:]+)$/.exec(s.base)?.[1];
      expect(tag, `FROM ${s.base} needs a version tag`).toMatch(/^\d+\.\d+\.\d+/);
      expect(s.base).not.toMatch(/latest/);
    }
  });

  it('runs npm ci (never npm install) and the native builds for CPU and GPU', () => {
    const runs = stages.flatMap((s) => s.lines.filter(([op]) => op === 'RUN').map(([, r]) => r));
    expect(runs.filter((r) => /\bnpm\s+(install|i|add)\b/.test(r))).toEqual([]);
    expect(runs.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    expect(runs.some((r) => /scripts\/setup-native\.sh(?!\s+--gpu)/.test(r))).toBe(true);
    expect(runs.some((r) => /scripts\/setup-native\.sh --gpu/.test(r))).toBe(true);
    // apt caches do not stay in a layer
    for (const r of runs.filter((x) => x.includes('apt-get install')))
      expect(r).toMatch(/--no-install-recommends.*rm -rf \/var\/lib\/apt\/lists/);
  });

  it('runs the final stages (the cpu and gpu targets) as a user that is not root, from an exec-form ENTRYPOINT', () => {
    const used = new Set(stages.flatMap((s) => [s.base, ...s.lines.map(([, r]) => /--from=(\S+)/.exec(r)?.[1] ?? '')]));
    const finals = stages.filter((s) => !used.has(s.name));
    expect(finals.map((s) => s.name).sort()).toEqual(['cpu', 'gpu']);
    for (const s of finals) {
      const user = s.lines.filter(([op]) => op === 'USER').at(-1)?.[1];
      expect(user, `${s.name}: USER`).toBeTruthy();
      expect(user, s.name).not.toMatch(/^(root|0)(:|$)/);
      const entry = s.lines.filter(([op]) => op === 'ENTRYPOINT').at(-1)?.[1] ?? '';
      expect(JSON.parse(entry), s.name).toEqual(['node', 'bin/mlpipe.js']);
    }
  });

  it('keeps node_modules and local state out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const p of ['node_modules', '.git', '.mlpipe']) expect(ignored).toContain(p);
  });
});
