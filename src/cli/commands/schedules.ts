import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { oneOf } from '../options.ts';
import { withConnectionOptions } from '../temporal-options.ts';
import type { ConnectionFlags } from '../../temporal/connection.ts';

type Flags = ConnectionFlags & { format?: 'human' | 'json'; all?: boolean; note?: string; from?: string; to?: string; overlap?: string };

const OVERLAPS = ['skip', 'bufferOne', 'bufferAll', 'cancelOther', 'terminateOther', 'allowAll'] as const;

async function withClient<T>(o: Flags, fn: (client: import('@temporalio/client').Client) => Promise<T>): Promise<T> {
  const { clientFrom } = await import('../temporal-options.ts');
  const client = await clientFrom(o);
  try {
    return await fn(client);
  } catch (err) {
    const { ScheduleNotFoundError } = await import('@temporalio/client');
    if (err instanceof ScheduleNotFoundError)
      throw new UsageError(`no schedule ${(err as { scheduleId?: string }).scheduleId ?? ''}; see 'mlpipe schedules list'`);
    throw err;
  } finally {
    await client.connection.close();
  }
}

function date(name: string, v: string | undefined): Date {
  if (!v) throw new UsageError(`${name} is required (ISO 8601, e.g. 2026-01-28T00:00:00Z)`);
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${name}: not a date: "${v}" (use ISO 8601, e.g. 2026-01-28T00:00:00Z)`);
  return d;
}

export function register(program: Command): void {
  const cmd = program
    .command('schedules')
    .description("inspect and operate the Temporal Schedules of pipelines ('mlpipe apply' creates them)");
  const sub = (name: string, description: string) => withConnectionOptions(cmd.command(name).description(description));

  sub('list', "mlpipe's schedules: pipeline, state, when, next run")
    .option('--all', 'also schedules not made by mlpipe')
    .option('--format <format>', 'human or json', oneOf(['human', 'json'] as const), 'human')
    .action((o: Flags) =>
      withClient(o, async (client) => {
        const { managedMemo } = await import('../../schedules/options.ts');
        const { describeSchedule } = await import('../../schedules/inspect.ts');
        const rows = [];
        for await (const s of client.schedule.list()) {
          const memo = managedMemo(s.memo);
          if (!memo && !o.all) continue;
          rows.push(await describeSchedule(client, s.scheduleId));
        }
        rows.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
        if (o.format === 'json') return void process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        if (!rows.length) return void process.stdout.write("no schedules; create them with 'mlpipe apply <dir>'\n");
        for (const r of rows) {
          process.stdout.write(
            `${r.scheduleId}  ${r.paused ? 'paused' : 'active'}  ${r.when} ` +
              ` next ${r.nextRuns[0] ?? '-'}${r.managed ? '' : '  (not mlpipe)'}\n`,
          );
        }
      }),
    );

  sub('describe', 'one schedule: spec, policies, git commit, recent and next runs')
    .argument('<pipeline>', 'pipeline name or schedule id (mlpipe:<pipeline>)')
    .option('--format <format>', 'human or json', oneOf(['human', 'json'] as const), 'human')
    .action((name: string, o: Flags) =>
      withClient(o, async (client) => {
        const { toScheduleId } = await import('../../schedules/options.ts');
        const { describeSchedule, describeText } = await import('../../schedules/inspect.ts');
        const view = await describeSchedule(client, toScheduleId(name));
        process.stdout.write(o.format === 'json' ? JSON.stringify(view, null, 2) + '\n' : describeText(view));
      }),
    );

  sub('trigger', 'start a run now (trigger=schedule)')
    .argument('<pipeline>', 'pipeline name or schedule id')
    .option('--overlap <policy>', `overlap policy for this run: ${OVERLAPS.join(', ')} (default allowAll)`, oneOf(OVERLAPS), 'allowAll')
    .action((name: string, o: Flags) =>
      withClient(o, async (client) => {
        const { toScheduleId, overlapPolicy } = await import('../../schedules/options.ts');
        const id = toScheduleId(name);
        await client.schedule.getHandle(id).trigger(overlapPolicy(o.overlap as (typeof OVERLAPS)[number]));
        process.stdout.write(`triggered ${id}\n`);
      }),
    );

  for (const [verb, paused] of [
    ['pause', true],
    ['unpause', false],
  ] as const) {
    sub(verb, paused ? 'stop starting runs (until unpause or the next apply that changes the pipeline)' : 'resume starting runs')
      .argument('<pipeline>', 'pipeline name or schedule id')
      .option('--note <text>', 'why (shown in the Temporal UI)')
      .action((name: string, o: Flags) =>
        withClient(o, async (client) => {
          const { toScheduleId } = await import('../../schedules/options.ts');
          const id = toScheduleId(name);
          const h = client.schedule.getHandle(id);
          const note = o.note ?? `${paused ? 'paused' : 'unpaused'} with mlpipe schedules ${verb}`;
          if (paused) await h.pause(note);
          else await h.unpause(note);
          process.stdout.write(`${paused ? 'paused' : 'unpaused'} ${id}\n`);
        }),
      );
  }

  sub('backfill', 'start the runs the schedule would have started between --from and --to')
    .argument('<pipeline>', 'pipeline name or schedule id')
    .requiredOption('--from <time>', 'start (ISO 8601, inclusive)')
    .requiredOption('--to <time>', 'end (ISO 8601)')
    .option(
      '--overlap <policy>',
      `overlap policy for these runs: ${OVERLAPS.join(', ')} (default allowAll: every run starts)`,
      oneOf(OVERLAPS),
      'allowAll',
    )
    .action((name: string, o: Flags) =>
      withClient(o, async (client) => {
        const { toScheduleId, overlapPolicy } = await import('../../schedules/options.ts');
        const from = date('--from', o.from);
        const to = date('--to', o.to);
        if (to <= from) throw new UsageError('--to must be after --from');
        const id = toScheduleId(name);
        await client.schedule
          .getHandle(id)
          .backfill({ start: from, end: to, overlap: overlapPolicy(o.overlap as (typeof OVERLAPS)[number]) });
        process.stdout.write(`backfill of ${id} from ${from.toISOString()} to ${to.toISOString()} requested\n`);
      }),
    );
}
