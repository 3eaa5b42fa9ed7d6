// `mlpipe models list|show|history|promote|rollback`: the model registry in the metadata
// database (--db / MLPIPE_DB), the same one deploys write and `mlpipe serve` follows; a promotion
// or rollback made here reaches a running server within its poll interval.
import type { Command } from 'commander';
import { withDbOption } from '../db-option.ts';
import { UsageError } from '../errors.ts';
import type { Registry, RegistryEntry, Traffic, TrafficChange } from '../../serving/registry.ts';

const out = (s: string) => void process.stdout.write(s);
const when = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

function trafficText(t: Traffic): string {
  const c = t.candidate;
  const cand = c ? `; candidate ${c.version} (${c.mode}${c.mode === 'canary' ? ` ${c.weight}%` : ''}, since ${when(c.startedAt)})` : '';
  return `primary ${t.primary ?? 'none'}${cand}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

function parseTime(v: string): Date {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new UsageError(`--at expects a time such as 2026-03-04T05:06:07Z, got "${v}"`);
  return d;
}

async function open(): Promise<{ reg: Registry; where: string }> {
  const { Registry } = await import('../../serving/registry.ts');
  const reg = new Registry();
  return { reg, where: (await reg.database()).where };
}

async function entryOf(reg: Registry, where: string, name: string): Promise<RegistryEntry> {
  const e = await reg.get(name);
  if (e) return e;
  const names = await reg.names();
  throw new Error(
    `no model "${name}" in the registry at ${where} (models: ${names.join(', ') || 'none'}); check the name, or MLPIPE_DB (or --db)`,
  );
}

async function done(): Promise<void> {
  const { closeDbs } = await import('../../db/index.ts');
  await closeDbs();
}

/** The primary before the current one that is still registered: what a rollback with no candidate goes back to. */
function previousPrimary(history: TrafficChange[], e: RegistryEntry): string | undefined {
  const live = new Set(e.versions.map((v) => v.version));
  for (let i = history.length - 1; i >= 0; i--) {
    const p = history[i]!.traffic.primary;
    if (p && p !== e.traffic.primary && live.has(p)) return p;
  }
  return undefined;
}

export function register(program: Command): void {
  const models = program.command('models').description('the model registry: list, show, history, promote, rollback (docs/metadata.md)');

  withDbOption(models.command('list').description('registered models and what each serves').option('--json', 'as JSON')).action(
    async (o: { json?: boolean }) => {
      const { reg, where } = await open();
      const entries = (await Promise.all((await reg.names()).map((n) => reg.get(n)))).filter((e): e is RegistryEntry => !!e);
      if (o.json) {
        out(
          `${JSON.stringify(
            entries.map((e) => ({ name: e.name, revision: e.revision, traffic: e.traffic, versions: e.versions.map((v) => v.version) })),
            null,
            1,
          )}\n`,
        );
      } else if (!entries.length) {
        out(`no models in the registry at ${where}\n`);
      } else {
        const rows = [['MODEL', 'PRIMARY', 'CANDIDATE', 'VERSIONS', 'REVISION']];
        for (const e of entries) {
          const c = e.traffic.candidate;
          rows.push([
            e.name,
            e.traffic.primary ?? '-',
            c ? `${c.version} (${c.mode}${c.mode === 'canary' ? ` ${c.weight}%` : ''})` : '-',
            String(e.versions.length),
            String(e.revision),
          ]);
        }
        out(table(rows));
      }
      await done();
    },
  );

  withDbOption(
    models
      .command('show <name>')
      .description('a model: its traffic, versions and latest events; --at: what served at a time')
      .option('--at <time>', 'the traffic split in effect at this time (ISO 8601)', parseTime)
      .option('--json', 'as JSON'),
  ).action(async (name: string, o: { at?: Date; json?: boolean }) => {
    const { reg, where } = await open();
    const e = await entryOf(reg, where, name);
    const versions = await reg.versions(name, { withdrawn: true });
    const at = o.at ? ((await reg.servedAt(name, o.at)) ?? null) : undefined;
    if (o.json) {
      out(`${JSON.stringify({ ...e, versions, ...(o.at ? { servedAt: { at: o.at.toISOString(), change: at } } : {}) }, null, 1)}\n`);
      return done();
    }
    if (o.at) {
      out(
        at
          ? `${name} at ${when(o.at.toISOString())}: ${trafficText(at.traffic)} (revision ${at.revision}, since ${when(at.at)})\n`
          : `${name} at ${when(o.at.toISOString())}: nothing served yet\n`,
      );
      return done();
    }
    out(`model ${name} (revision ${e.revision}, ${where})\ntraffic: ${trafficText(e.traffic)}\nversions:\n`);
    const rows = versions.map((v) => [
      `  ${v.version}`,
      when(v.createdAt),
      `${v.source.workflowId} (${v.source.stage})`,
      v.model.digest.slice(0, 19),
      v.withdrawnAt ? `withdrawn ${when(v.withdrawnAt)}` : '',
    ]);
    out(rows.length ? table(rows) : '  none\n');
    out('latest events:\n');
    for (const ev of e.events.slice(-10)) out(`  ${when(ev.at)}  ${ev.event} ${ev.version}${ev.reason ? `: ${ev.reason}` : ''}\n`);
    await done();
  });

  withDbOption(
    models
      .command('history <name>')
      .description("a model's whole history: every deploy, promotion, rollback and withdrawal, oldest first")
      .option('--limit <n>', 'only the newest n', (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new UsageError(`--limit expects a positive integer, got "${v}"`);
        return n;
      })
      .option('--json', 'as JSON'),
  ).action(async (name: string, o: { limit?: number; json?: boolean }) => {
    const { reg, where } = await open();
    await entryOf(reg, where, name);
    const events = await reg.history(name, { limit: o.limit });
    if (o.json) out(`${JSON.stringify(events, null, 1)}\n`);
    else
      out(
        table([
          ['AT', 'REVISION', 'EVENT', 'VERSION', 'REASON'],
          ...events.map((ev) => [when(ev.at), String(ev.revision), ev.event, ev.version, ev.reason ?? '']),
        ]),
      );
    await done();
  });

  withDbOption(
    models
      .command('promote <name> [version]')
      .description('make the candidate (or the version named) the primary; any candidate is settled')
      .option('--reason <text>', 'recorded with the event', 'by hand (mlpipe models promote)'),
  ).action(async (name: string, version: string | undefined, o: { reason: string }) => {
    const { reg, where } = await open();
    await entryOf(reg, where, name);
    const { setPrimary, settleCandidate } = await import('../../serving/registry.ts');
    const e = await reg.update(name, (cur) => {
      const c = cur.traffic.candidate;
      if (!version || version === c?.version) {
        if (!c)
          throw new UsageError(
            `model "${name}" has no candidate to promote (primary ${cur.traffic.primary ?? 'none'}); name a ` +
              `version: mlpipe models promote ${name} <version>`,
          );
        return settleCandidate(cur, 'promote', o.reason);
      }
      return setPrimary(cur, version, 'promoted', o.reason);
    });
    out(`${name}: ${trafficText(e.traffic)} (revision ${e.revision})\n`);
    await done();
  });

  withDbOption(
    models
      .command('rollback <name> [version]')
      .description('drop the candidate; with none, go back to the previous primary (or the version named)')
      .option('--reason <text>', 'recorded with the event', 'by hand (mlpipe models rollback)'),
  ).action(async (name: string, version: string | undefined, o: { reason: string }) => {
    const { reg, where } = await open();
    const seen = await entryOf(reg, where, name);
    const back = version ?? (seen.traffic.candidate ? undefined : previousPrimary(await reg.trafficHistory(name), seen));
    const { setPrimary, settleCandidate } = await import('../../serving/registry.ts');
    const e = await reg.update(name, (cur) => {
      if (!version && cur.traffic.candidate) return settleCandidate(cur, 'rollback', o.reason);
      if (!back)
        throw new UsageError(
          `model "${name}" has no candidate and no earlier primary to roll back to (primary ${cur.traffic.primary ?? 'none'})`,
        );
      // Decided from the history read above: refuse if another writer moved the primary meanwhile.
      if (!version && cur.traffic.primary !== seen.traffic.primary)
        throw new Error(`model "${name}" changed meanwhile (primary now ${cur.traffic.primary}); run the rollback again`);
      return setPrimary(cur, back, 'rolledBack', o.reason);
    });
    out(`${name}: ${trafficText(e.traffic)} (revision ${e.revision})\n`);
    await done();
  });
}
