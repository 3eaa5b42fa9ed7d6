/**
 * The linter and the formatter (Biome, configured in biome.json) run with the suite, so `npm test`
 * and `.ci/run` fail on a finding or an unformatted file. `npm run lint` runs the same check
 * alone; `npm run format` formats.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('biome ci (lint and format)', () => {
  it('finds nothing in the sources, tests, bench and scripts, and every file is formatted', () => {
    const r = spawnSync(process.execPath, ['node_modules/@biomejs/biome/bin/biome', 'ci', '--max-diagnostics=50'], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  }, 120_000);
});
