/** `mlpipe …` run in the test's own process (src/cli/main.ts): its exit code, stdout and stderr. */
import { vi } from 'vitest';
import { main } from '../../src/cli/main.ts';

export async function mlpipeInProcess(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    out += String(c);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    err += String(c);
    return true;
  });
  try {
    const code = await main(['node', 'mlpipe', ...args]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
