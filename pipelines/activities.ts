// The example pipelines' own activities (the `activity` stage type), loaded by the worker:
//   mlpipe worker --activities pipelines/activities.ts
// Each export is `async (input, stage) => outputs`; see activities/user.ts.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonValue, StageActivityInput } from '../src/core/plan.ts';
import { mlpipeHome } from '../src/home.ts';

/**
 * Tells the team: appends the message (one JSON line) to `<mlpipeHome>/notifications/<channel>.ndjson`.
 * A real deployment would post to a chat webhook here.
 */
export async function notifyTeam(input: JsonValue, stage?: StageActivityInput): Promise<{ outputs: { delivered: boolean } }> {
  const { channel, message } = (input ?? {}) as { channel?: unknown; message?: unknown };
  if (typeof message !== 'string' || !message) throw new Error('notifyTeam needs `input.message` (a string)');
  const ch = typeof channel === 'string' && channel ? channel : 'general';
  const dir = join(mlpipeHome(), 'notifications');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${ch.replace(/[^A-Za-z0-9_-]/g, '') || 'general'}.ndjson`);
  const line = { at: new Date().toISOString(), channel: ch, message, run: stage?.run.workflowId ?? null, stage: stage?.stage ?? null };
  appendFileSync(file, `${JSON.stringify(line)}\n`);
  return { outputs: { delivered: true } };
}
