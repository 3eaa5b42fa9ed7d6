import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerCommands } from './commands/index.ts';
import { ReportedFailure, UsageError } from './errors.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Exit codes shared by every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command('mlpipe')
    .description('Declarative ML pipelines in YAML, run as durable Temporal workflows')
    .version(pkg.version, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  await registerCommands(program, argv);
  return program;
}

/** Runs the CLI and returns the process exit code (it never calls process.exit itself). */
export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with exit code 0 through this path too.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof ReportedFailure) return EXIT.failed;
    if (err instanceof UsageError) {
      process.stderr.write(`mlpipe: ${err.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`mlpipe: ${errorText(err)}\n`);
    return EXIT.failed;
  }
}

/** The message and its causes' (a server's reason sits in the cause of the SDK's error), each once. */
function errorText(err: unknown): string {
  let text = err instanceof Error ? err.message : String(err);
  let e = (err as { cause?: unknown } | undefined)?.cause as { details?: string; message?: string; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++, e = e.cause as typeof e) {
    const m = e.details || e.message;
    if (m && !text.includes(m)) text += `: ${m}`;
  }
  return text;
}
