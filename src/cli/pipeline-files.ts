/** Expands the files and directories given on the command line into pipeline files. */
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { UsageError } from './errors.ts';

const PIPELINE_FILE = /\.ya?ml$/;

async function walk(dir: string, out: string[]): Promise<void> {
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) await walk(p, out);
    else if (entry.isFile() && PIPELINE_FILE.test(entry.name)) out.push(p);
  }
}

/**
 * Every .yaml/.yml file named or found below a named directory (dot dirs and node_modules
 * skipped). A directory with none is a usage error unless `allowEmpty` (apply: no pipelines).
 */
export async function pipelineFiles(args: string[], o: { allowEmpty?: boolean } = {}): Promise<string[]> {
  const files: string[] = [];
  for (const arg of args) {
    let st;
    try {
      st = await stat(arg);
    } catch {
      throw new UsageError(`no such file or directory: ${arg}`);
    }
    if (st.isDirectory()) {
      const found: string[] = [];
      await walk(arg, found);
      if (found.length === 0 && !o.allowEmpty) throw new UsageError(`no .yaml or .yml files in ${arg}`);
      files.push(...found);
    } else {
      files.push(arg);
    }
  }
  return [...new Set(files.map((f) => relative(process.cwd(), f) || f))];
}
