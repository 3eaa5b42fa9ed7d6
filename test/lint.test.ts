/**
 * The linter (Biome, configured in biome.json) runs with the suite, so `npm test` and `.ci/run`
 * fail on what it finds. `npm run lint` runs it alone.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('biome lint', () => {
  it('finds nothing in the sources, tests, bench and scripts', () => {
    const r = spawnSync(process.execPath, ['node_modules/@biomejs/biome/bin/biome', 'lint', '--max-diagnostics=50'], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  }, 120_000);
});
