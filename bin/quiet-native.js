// TensorFlow's native library logs through absl as it loads ("WARNING: All log messages before
// absl::InitializeLog() is called are written to STDERR", then the oneDNN notice), before it
// reads TF_CPP_MIN_LOG_LEVEL, straight to file descriptor 2. The commands that load it (`dev`,
// `worker`, `serve`) load it here first, before anything else runs in the process (no other
// thread opens files yet, which makes the close-then-open swaps of descriptor 2 below safe),
// with descriptor 2 on /dev/null for that moment; or, where stderr is a socket that cannot be
// reopened, with stderr going through a filter process for good (bin/stderr-filter.js).
// `--verbose` leaves stderr alone. Plain JavaScript: it runs before the TypeScript loader.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The commands that load TensorFlow's native library. */
export const NATIVE_COMMANDS = new Set(['dev', 'worker', 'serve']);

const require = createRequire(import.meta.url);
const FILTER = fileURLToPath(new URL('./stderr-filter.js', import.meta.url));

/** The subcommand of `mlpipe [options] <command> …` (the first word that is not an option). */
function commandOf(argv) {
  return argv.slice(2).find((a) => !a.startsWith('-'));
}

/** The packages src/ml/backend.ts would load for this preference, in its order. */
function nativePackages(preference) {
  if (preference === 'js') return [];
  if (preference === 'cpu') return ['@tensorflow/tfjs-node'];
  return ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
}

/** Loads the first of the packages that loads; a failure is left to src/ml/backend.ts to report. */
function loadNative(env) {
  for (const pkg of nativePackages((env.MLPIPE_TF_BACKEND ?? 'auto').toLowerCase())) {
    try {
      require.resolve(pkg);
    } catch {
      continue;
    }
    try {
      require(pkg);
      return;
    } catch {
      // src/ml/backend.ts loads it again and says what failed
    }
  }
}

/** A new descriptor on the file behind descriptor 2, or undefined (a socket, no /dev/fd). */
function reopenStderr() {
  try {
    return openSync('/dev/fd/2', 'a');
  } catch {
    return undefined;
  }
}

/** Runs `fn` with descriptor 2 on /dev/null, then points it at `saved` (stderr) again. */
function silenced(saved, fn) {
  closeSync(2);
  const devNull = openSync('/dev/null', 'w'); // the lowest free descriptor: 2
  try {
    return fn();
  } finally {
    closeSync(devNull);
    openSync(`/dev/fd/${saved}`, 'a'); // 2 again
    closeSync(saved);
  }
}

/**
 * Points descriptor 2 at a FIFO read by bin/stderr-filter.js, whose output is the original
 * stderr; leaves it alone where there is no `mkfifo`. The filter ends after this process (and
 * any child that inherited its stderr) has ended.
 */
function throughFilter() {
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

/**
 * For `dev`, `worker` and `serve`: loads the native TensorFlow package now, without its start-up
 * lines on stderr (with `--verbose`: not now, and with TensorFlow's info logs on).
 */
export function loadNativeQuietly(argv = process.argv, env = process.env) {
  if (!NATIVE_COMMANDS.has(commandOf(argv)) || argv.includes('--help') || argv.includes('-h')) return;
  const verbose = argv.includes('--verbose');
  env.TF_CPP_MIN_LOG_LEVEL ??= verbose ? '0' : '2';
  if (verbose) return;
  try {
    // the new descriptors must come out as 2: 0 and 1 have to be open
    fstatSync(0);
    fstatSync(1);
  } catch {
    return loadNative(env);
  }
  const saved = reopenStderr();
  if (saved !== undefined) return silenced(saved, () => loadNative(env));
  throughFilter();
  loadNative(env);
}
