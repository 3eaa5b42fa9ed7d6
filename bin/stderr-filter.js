// Sidecar of an mlpipe process whose stderr is a socket (a Node.js parent's pipe, systemd's
// journal), which cannot be silenced for a moment and put back (src/cli/native-start.ts): that
// process writes its stderr into this one's stdin for its whole life, and this one passes it on
// to the real stderr without TensorFlow's start-up lines. It ends when its input does, so it
// ignores the signals a terminal sends to the whole process group.
import { pathToFileURL } from 'node:url';

/** absl's notice and TensorFlow's oneDNN notice, printed as the native library loads. */
export function isStartupLine(line) {
  return (
    line === 'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR' ||
    /^I\d{4} [\d:.]+ +\d+ port\.cc:\d+\] oneDNN custom operations are on\./.test(line)
  );
}

async function forward() {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => undefined);
  let pending = '';
  for await (const chunk of process.stdin) {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop();
    const kept = lines.filter((l) => !isStartupLine(l));
    if (kept.length) process.stdout.write(kept.join('\n') + '\n');
  }
  if (pending) process.stdout.write(pending);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await forward();
