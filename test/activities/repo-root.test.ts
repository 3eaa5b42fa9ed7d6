// Workers on other machines: a plan compiled on one machine names the spec's directory there
// (`location.baseDir`) and relative to its git checkout (`location.repoDir`); a worker started with
// `--repo-root <its checkout>` (MLPIPE_REPO_ROOT) reads collect paths from its own checkout.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectDataset, sourceBaseDir } from '../../activities/collect.ts';
import { compileFile } from '../../src/compiler/index.ts';
import { tempDir } from '../support/data.ts';

const SPEC = `apiVersion: mlpipe/v1
metadata: { name: repo-root }
stages:
  data:
    type: collect
    source: { type: csv, path: data/a.csv }
`;

describe('collect paths on workers with their own checkout', () => {
  it('the plan records the spec directory inside its git checkout', async () => {
    const repo = tempDir();
    execFileSync('git', ['init', '-q'], { cwd: repo });
    mkdirSync(join(repo, 'ml', 'pipelines', 'data'), { recursive: true });
    writeFileSync(join(repo, 'ml', 'pipelines', 'p.yaml'), SPEC);
    const { plan, source } = await compileFile(join(repo, 'ml', 'pipelines', 'p.yaml'));
    expect(source.repoDir).toBe('ml/pipelines');
    expect(plan.nodes[0]!.location).toEqual({ repoDir: 'ml/pipelines', baseDir: join(repo, 'ml', 'pipelines') });
    expect(plan.nodes[0]!.config).not.toHaveProperty('__baseDir'); // the compiler's facts stay out of the user's config
  });

  it("a worker with --repo-root reads from its checkout; without it, from the compiling machine's directory", async () => {
    const checkout = tempDir(); // where this worker sees the repo
    mkdirSync(join(checkout, 'ml', 'pipelines', 'data'), { recursive: true });
    writeFileSync(join(checkout, 'ml', 'pipelines', 'data', 'a.csv'), 'x,y\n1,0\n2,1\n3,0\n');
    const cfg = { source: { type: 'csv' as const, path: 'data/a.csv' } };
    const location = { baseDir: '/home/alice/repo/ml/pipelines', repoDir: 'ml/pipelines' };
    expect(sourceBaseDir(location, 'stage "data"', {})).toBe('/home/alice/repo/ml/pipelines');
    expect(sourceBaseDir(location, 'stage "data"', { MLPIPE_REPO_ROOT: checkout })).toBe(join(checkout, 'ml', 'pipelines'));
    await expect(collectDataset(cfg, location, 'stage "data"')).rejects.toThrow(
      /does not exist \(looked in \/home\/alice\/repo\/ml\/pipelines\).*--repo-root/,
    );
    process.env.MLPIPE_REPO_ROOT = checkout;
    try {
      expect((await collectDataset(cfg, location, 'stage "data"')).rows).toBe(3);
    } finally {
      delete process.env.MLPIPE_REPO_ROOT;
    }
    // a plan's repoDir cannot lead out of the checkout
    expect(() => sourceBaseDir({ ...location, repoDir: '../../etc' }, 'stage "data"', { MLPIPE_REPO_ROOT: checkout })).toThrow(
      /leaves its root/,
    );
  });
});
