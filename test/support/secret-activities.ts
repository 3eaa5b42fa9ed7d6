/**
 * User activities for the secret tests, run by a `mlpipe worker --activities` child process (so
 * its console and logger output can be read): one records what it received, one returns text
 * that looks like a template, and two hand a secret back in every encoding they can think of.
 */
import { appendFileSync } from 'node:fs';
import { ApplicationFailure, log } from '@temporalio/activity';
import type { JsonValue } from '../../src/core/plan.ts';
import { encodings } from './secret-forms.ts';

type In = Record<string, JsonValue>;
const obj = (i: JsonValue): In => (i && typeof i === 'object' && !Array.isArray(i) ? (i as In) : {});

/** Appends its input (JSON, one line) to `input.log`; fails when `q` equals `failOn`. */
export async function echo(input: JsonValue): Promise<In> {
  const i = obj(input);
  if (typeof i.log === 'string') appendFileSync(i.log, `${JSON.stringify(i)}\n`);
  if (i.failOn !== undefined && i.q === i.failOn) {
    throw ApplicationFailure.nonRetryable(`q is ${JSON.stringify(i.q)}: retry with another`, 'WrongQ');
  }
  return { q: i.q ?? null };
}

/** Returns text that reads like a secret reference: an output is data, never a template. */
export async function emit(input: JsonValue): Promise<In> {
  return { v: `\${secrets.${String(obj(input).name)}}`, list: [`\${secrets.${String(obj(input).name)}}`] };
}

/** Logs the secret (console and the activity logger) and returns it, in every encoding. */
export async function leak(input: JsonValue): Promise<In> {
  const e = encodings(String(obj(input).secret));
  for (const v of Object.values(e)) {
    console.log(`console.log: ${v}`);
    console.error(`console.error: ${v}`);
  }
  console.log({ nested: e }); // util.inspect's own escaping
  log.warn('activity logger', { ...e });
  return { ...e, nested: { list: Object.values(e) }, [String(e.raw)]: 'as a key' };
}

/** Fails with the secret in its message, details and cause. */
export async function leakFail(input: JsonValue): Promise<never> {
  const e = encodings(String(obj(input).secret));
  throw ApplicationFailure.create({
    message: `upstream refused ${e.url} with ${e.json}`,
    type: 'Leaky',
    nonRetryable: true,
    details: [e],
    cause: new Error(`inner: ${e.base64} ${e.raw}`),
  });
}
