/**
 * `${secrets.NAME}` in a stage's fields: resolved here, on the worker, from its environment
 * variable `MLPIPE_SECRET_NAME`, just before the stage runs. The compiler and the workflow leave
 * these references as written, so a secret's value is never in a plan, a workflow input or a
 * history event; errors and outputs that would carry it back are redacted (src/redaction.ts).
 */
import { ApplicationFailure } from '@temporalio/common';
import { findTemplates, readsSecrets, substitute, unescapeTemplates } from '../../src/core/expr.ts';
import type { JsonValue } from '../../src/core/plan.ts';
import { redactValue } from '../../src/redaction.ts';

export const SECRET_ENV_PREFIX = 'MLPIPE_SECRET_';
const NAME = /^secrets\.([A-Z][A-Z0-9_]*)$/;

export interface Resolved<T> {
  value: T;
  /** The secret values that went in, to redact from whatever comes out. */
  secrets: string[];
}

/**
 * Replaces every `${secrets.NAME}` in strings anywhere in `value` with the worker's env value,
 * then turns escapes (`$${`) into the literal `${` they stand for: this is the last phase of
 * template resolution, so an escaped `$${secrets.X}` stays text and is never resolved.
 */
export function resolveSecrets<T extends JsonValue>(value: T, env: NodeJS.ProcessEnv, stage: string): Resolved<T> {
  const used = new Set<string>();
  const walk = (v: JsonValue): JsonValue => {
    if (typeof v === 'string') return resolveString(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  // Secret values are substituted escaped, like every value, so the unescape below gives them
  // back exactly (a value holding `$${` included).
  const resolveString = (s: string): string => {
    if (!s.includes('${')) return s;
    return substitute(s, findTemplates(s), (t) => {
      if (!readsSecrets(t.expr)) return undefined;
      const m = NAME.exec(t.expr);
      if (!m) {
        throw ApplicationFailure.nonRetryable(
          `stage "${stage}": \`\${${t.expr}}\`: a secret is written \${secrets.NAME} and used as a whole`,
          'InvalidInput',
        );
      }
      const envName = SECRET_ENV_PREFIX + m[1];
      const secret = env[envName];
      if (secret === undefined || secret === '') {
        throw ApplicationFailure.nonRetryable(
          `stage "${stage}" needs secret ${m[1]}, but this worker has no ${envName} in its environment; set it where the worker runs`,
          'InvalidInput',
        );
      }
      used.add(secret);
      return secret;
    });
  };
  return { value: unescapeTemplates(walk(value) as T), secrets: [...used] };
}

export { redactError, redactText as redact } from '../../src/redaction.ts';

/** Outputs become workflow history: redact any secret in them (keys too). */
export function redactOutputs<T>(outputs: T, secrets: readonly string[]): T {
  return redactValue(outputs, secrets);
}
