/**
 * Redaction of secret values in every encoding they leave in (src/redaction.ts): unit cases for
 * text, values, errors and the run report. The worker end to end (history, logs) is in
 * redaction-worker.test.ts.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { redactError, redactText, redactValue, rememberSecrets } from '../../src/redaction.ts';
import { esc } from '../../src/ml/report/svg.ts';
import { updateRunReport } from '../../src/ml/report/report.ts';
import { LocalArtifactStore } from '../../src/artifacts/index.ts';
import { encodings, leakedForms } from '../support/secret-forms.ts';

/** Secrets with what broke the old JSON-text search: quotes, backslashes, spaces, /, +, non-ASCII. */
const SECRETS = ['p"w\\d /+é€', 'tok "quoted" \\back\\ 1+1=2 / ünï', 'a\'b"c\\d e/f+g%h&i<j>😀'];

/** The ways a value is written out by code a stage might run. */
function writtenForms(s: string): Record<string, string> {
  const json = JSON.stringify(s);
  return {
    ...encodings(s),
    inspect: inspect({ s }),
    inspectJson: inspect({ body: JSON.stringify({ s }), url: new URL(`https://x.test/?k=${s}`).href }),
    jsonInJson: JSON.stringify({ body: JSON.stringify({ s }) }),
    pythonJson: json.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    lowerHex: encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
    html: `<td>${esc(s)}</td>`,
    urlInJson: JSON.stringify({ url: `https://x.test/?q=${encodeURIComponent(s)}` }),
    basicInJson: JSON.stringify({ headers: { authorization: `Basic ${Buffer.from(`me:${s}`).toString('base64')}` } }),
  };
}

/** What leaks: the forms of the secret in `text` (esc(s) too: the HTML report). */
const leaks = (text: string, s: string) => [...leakedForms(text, s), ...(text.includes(esc(s)) ? [esc(s)] : [])];

describe('redactText', () => {
  it.each(SECRETS)('finds %j in every encoding', (s) => {
    for (const [how, text] of Object.entries(writtenForms(s))) {
      const clean = redactText(`before ${text} after`, [s]);
      expect(leaks(clean, s), how).toEqual([]);
      expect(clean, how).toContain('[redacted]');
      expect(clean, how).toMatch(/^before [\s\S]* after$/);
    }
  });

  it('leaves text without the secret alone', () => {
    expect(redactText('nothing to see: p"w', [SECRETS[0]!])).toBe('nothing to see: p"w');
  });
});

describe('redactValue and redactError', () => {
  const s = SECRETS[1]!;

  it('redacts strings anywhere in a value, keys included', () => {
    const v = redactValue({ a: [`x ${s}`, { [s]: JSON.stringify({ s }) }], n: 1, ok: true }, [s]);
    expect(JSON.stringify(v)).not.toContain(JSON.stringify(s).slice(1, -1));
    expect(v).toEqual({ a: ['x [redacted]', { '[redacted]': '{"s":"[redacted]"}' }], n: 1, ok: true });
  });

  it('redacts message, stack, details and causes, Error or not', () => {
    const err = ApplicationFailure.create({
      message: `refused ${encodeURIComponent(s)}`,
      details: [{ url: `?k=${encodeURIComponent(s)}`, body: JSON.stringify({ s }) }],
      cause: new Error(`inner ${Buffer.from(s).toString('base64')}`, { cause: { token: s } }),
    });
    redactError(err, [s]);
    const seen = [
      err.message,
      err.stack,
      JSON.stringify(err.details),
      (err.cause as Error).message,
      (err.cause as Error).stack,
      JSON.stringify((err.cause as Error).cause),
    ].join('\n');
    expect(leaks(seen, s)).toEqual([]);
    expect(err.message).toBe('refused [redacted]');
    expect((err.cause as Error).cause).toEqual({ token: '[redacted]' });
    const thrown = redactError(`plain string ${s}`, [s]);
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toBe('plain string [redacted]');
  });
});

describe('reports written by stages', () => {
  it('the run report (the stored section and the HTML) holds no secret the worker has used', async () => {
    const s = SECRETS[2]!;
    rememberSecrets([s]);
    const home = mkdtempSync(join(tmpdir(), 'mlpipe-redact-report-'));
    const run = { workflowId: 'redact/1', runId: 'r1', pipeline: 'redact', planHash: 'h'.repeat(64) };
    const html = await updateRunReport(
      run,
      new LocalArtifactStore(join(home, 'artifacts')),
      {
        evaluation: { stage: 'eval', split: 'test', metrics: { accuracy: 1 }, classes: ['cat', s], gates: [], passed: true },
      },
      { MLPIPE_HOME: home },
    );
    const stored = await new LocalArtifactStore(join(home, 'artifacts')).getRunFile(run.workflowId, 'report/evaluation/eval.json');
    const text = readFileSync(html, 'utf8') + String(stored);
    expect(text).toContain('cat');
    expect(leaks(text, s)).toEqual([]);
    expect(text).not.toContain(esc(s));
    expect(text).toContain('[redacted]');
  });
});
