/**
 * TensorFlow's native library logs through absl as it loads ("WARNING: All log messages before
 * absl::InitializeLog() is called are written to STDERR", then the oneDNN notice), before it
 * reads TF_CPP_MIN_LOG_LEVEL, straight to file descriptor 2. The commands that load it (`dev`,
 * `worker`, `serve`, `doctor`) select the backend here, first, before anything else runs (no other thread
 * opens files then, which makes the close-then-open swaps of descriptor 2 below safe): with
 * descriptor 2 on /dev/null for that moment, or, where stderr is a socket that cannot be
 * reopened, with stderr going through a filter process for good (bin/stderr-filter.js).
 * `--verbose` leaves stderr alone.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The commands that load TensorFlow's native library. */
export const NATIVE_COMMANDS = new Set(['dev', 'worker', 'serve', 'doctor']);

const FILTER = fileURLToPath(new URL('../../bin/stderr-filter.js', import.meta.url));

/** A new descriptor on the file behind descriptor 2, or undefined (a socket, no /dev/fd). */
function reopenStderr(): number | undefined {
  try {
    return openSync('/dev/fd/2', 'a');
  } catch {
    return undefined;
  }
}

/**
 * Runs `fn` with descriptor 2 on /dev/null, then points it at `saved` (stderr) again. What the
 * process itself writes to stderr meanwhile (a warning of the backend's) is held and written
 * after.
 */
function silenced(saved: number, fn: () => void): void {
  const held: (string | Uint8Array)[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => held.push(chunk) > 0) as typeof write;
  closeSync(2);
  const devNull = openSync('/dev/null', 'w'); // the lowest free descriptor: 2
  try {
    fn();
  } finally {
    closeSync(devNull);
    openSync(`/dev/fd/${saved}`, 'a'); // 2 again
    closeSync(saved);
    process.stderr.write = write;
    for (const chunk of held) process.stderr.write(chunk);
  }
}

/**
 * Points descriptor 2 at a FIFO read by bin/stderr-filter.js, whose output is the original
 * stderr; leaves it alone where there is no `mkfifo`. The filter ends after this process (and
 * any child that inherited its stderr) has ended.
 */
function throughFilter(): void {
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-stderr-'));
  try {
    const fifo = join(dir, 'stderr');
    if (spawnSync('mkfifo', ['-m', '600', fifo]).status !== 0) return;
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const filter = spawn(process.execPath, [FILTER], { stdio: [reader, 2, 2] });
    closeSync(reader);
    if (filter.pid === undefined) return; // not started: stderr stays as it is
    filter.unref();
    closeSync(2);
    openSync(fifo, 'w'); // 2; the filter holds the reading end, so this does not block
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The subcommand of `mlpipe [options] <command> …` (the first word that is not an option). */
function commandOf(argv: string[]): string | undefined {
  return argv.slice(2).find((a) => !a.startsWith('-'));
}

/**
 * For `dev`, `worker` and `serve`: selects the TensorFlow backend now (as they would later), its
 * start-up lines kept off stderr; with `--verbose`, only turns TensorFlow's info logs on. A
 * backend that fails to come up is left for the command's own selection to report.
 */
export async function startNativeQuietly(argv: string[] = process.argv): Promise<void> {
  if (!NATIVE_COMMANDS.has(commandOf(argv) ?? '') || argv.includes('--help') || argv.includes('-h')) return;
  if (argv.includes('--verbose')) {
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '0';
    process.env.TF_ENABLE_ONEDNN_OPTS ??= '1'; // as setNativeEnvDefaults: the same kernels on every host
    return;
  }
  const { selectBackend } = await import('../ml/runtime/backend.ts');
  const select = () => {
    try {
      selectBackend();
    } catch {
      // the command selects again and reports why
    }
  };
  try {
    // the new descriptors must come out as 2: 0 and 1 have to be open
    fstatSync(0);
    fstatSync(1);
  } catch {
    return select();
  }
  const saved = reopenStderr();
  if (saved !== undefined) return silenced(saved, select);
  throughFilter();
  select();
}
