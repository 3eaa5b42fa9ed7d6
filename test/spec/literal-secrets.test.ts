/**
 * security.literal-secret: a credential pasted into a spec (a sensitive header, a sensitive URL
 * query parameter) is refused; `${secrets.NAME}` is accepted. The value never appears in what
 * the diagnostic prints. The corpus in test/fixtures/invalid/literal-*.yaml pins the exact text.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderGithub, renderHuman } from '../../src/cli/diagnostics-output.ts';
import { compile } from '../../src/compiler/compile.ts';
import { formatOne } from '../../src/spec/diagnostics.ts';
import { isSensitiveHeader, isSensitiveQueryParam, maskCredentials } from '../../src/spec/literal-secrets.ts';
import { loadSpecText } from '../../src/spec/load.ts';
import { validateFile, validateLoaded } from '../../src/spec/validate.ts';

const SECRET = 'tok-5e1f9a2c';

const spec = (source: string, more = '', params = '') => `apiVersion: mlpipe/v1
metadata: { name: t }
params:
  epochs: { type: integer, default: 3 }
${params}
stages:
  data:
    type: collect
    source: ${source}
${more}`;

const csv = (extra: string, url = 'https://data.example.com/a.csv') => `{ type: csv, url: "${url}"${extra} }`;

function check(text: string, overrides: Record<string, string> = {}) {
  const r = validateLoaded(loadSpecText('t.yaml', text), overrides);
  const printed = r.diagnostics.map((d) => [formatOne(d), renderHuman(d, text), renderGithub(d), JSON.stringify(d)].join('\n')).join('\n');
  return { r, codes: r.diagnostics.map((d) => d.code), printed };
}

describe('credentials written into a spec', () => {
  it.each([
    ['a bearer token from a secret', csv(', headers: { Authorization: "Bearer ${secrets.API_TOKEN}" }')],
    ['a bare secret, any case of the name', csv(', headers: { x-api-key: "${secrets.API_KEY}" }')],
    ['Basic and Token schemes', csv(', headers: { Authorization: "Basic ${secrets.B}", Proxy-Authorization: "token ${secrets.P}" }')],
    ['several secrets', csv(', headers: { Cookie: "${secrets.A} ${secrets.B}" }')],
    ['an empty value', csv(', headers: { Authorization: "" }')],
    ['headers that are not credentials', csv(', headers: { Accept: text/csv, User-Agent: "mlpipe/1 abc" }')],
    ['a query token from a secret', csv('', 'https://data.example.com/a.csv?day=1&token=${secrets.T}')],
    ['an empty sensitive query parameter', csv('', 'https://data.example.com/a.csv?key=&sig')],
    ['query parameters that are not credentials', csv('', 'https://data.example.com/a.csv?keys=a&monkey=b&tokenizer=bert')],
    [
      'a whole webhook URL from a secret',
      '{ type: synthetic, generator: blobs, samples: 10, seed: 1 }',
      '  watch:\n    type: monitor\n    needs: [data]\n    onBreach: { action: alert, webhook: "${secrets.SLACK_WEBHOOK}" }\n',
    ],
  ])('accepts %s', (_, source, more = '') => {
    const { r } = check(spec(source, more));
    expect(r.diagnostics).toEqual([]);
  });

  it('keeps the reference, not a value, in the compiled plan', () => {
    const { r } = check(
      spec(csv(', headers: { Authorization: "Bearer ${secrets.API_TOKEN}" }', 'https://data.example.com/a.csv?token=${secrets.T}')),
    );
    const plan = compile(r.valid!, { baseDir: '/base' });
    const source = plan.nodes.find((n) => n.id === 'data')!.config.source as { url: string; headers: Record<string, string> };
    expect(source).toMatchObject({
      url: 'https://data.example.com/a.csv?token=${secrets.T}',
      headers: { Authorization: 'Bearer ${secrets.API_TOKEN}' },
    });
  });

  it.each([
    ['a literal bearer token', csv(`, headers: { Authorization: "Bearer ${SECRET}" }`), 'header `Authorization` is written in the file'],
    ['a literal without a scheme', csv(`, headers: { X-Api-Key: "${SECRET}" }`), 'header `X-Api-Key` is written'],
    ['a name that contains a sensitive word', csv(`, headers: { X-Session-Id: "${SECRET}" }`), 'header `X-Session-Id` is written'],
    [
      'an unknown word before the secret',
      csv(`, headers: { Authorization: "${SECRET} \${secrets.A}" }`),
      'header `Authorization` is written',
    ],
    ['text around the secret', csv(`, headers: { Authorization: "Bearer \${secrets.A}${SECRET}" }`), 'header `Authorization` is written'],
    ['a scheme alone', csv(', headers: { Authorization: "Bearer" }'), 'header `Authorization` is written'],
    ['a literal query token', csv('', `https://data.example.com/a.csv?token=${SECRET}`), 'query parameter `token` is written'],
    ['a percent-encoded name', csv('', `https://data.example.com/a.csv?API%5Fkey=${SECRET}`), 'query parameter `API_key` is written'],
    [
      'a secret with text around it',
      csv('', `https://data.example.com/a.csv?sig=\${secrets.S}${SECRET}`),
      'query parameter `sig` is written',
    ],
    [
      'a stage output',
      csv(', headers: { Authorization: "Bearer ${stages.login.outputs.token}" }'),
      'takes its value from `stages.login.outputs.token`',
    ],
  ])('refuses %s, naming the field but not the value', (_, source, says) => {
    const { codes, printed } = check(spec(source));
    expect(codes).toContain('security.literal-secret');
    expect(printed).toContain(says);
    expect(printed).toContain('${secrets.NAME}');
    expect(printed).toContain('MLPIPE_SECRET_NAME');
    expect(printed).not.toContain(SECRET);
    expect(printed).not.toContain(SECRET.slice(4)); // no part of it either
  });

  it('refuses a credential that comes from a param: its default, a run override, a whole URL', () => {
    const header = spec(csv(', headers: { Authorization: "Bearer ${params.tok}" }'), '', `  tok: { type: string, default: "${SECRET}" }`);
    for (const [text, overrides] of [
      [header, {}],
      [spec(csv(', headers: { Authorization: "${params.tok}" }'), '', '  tok: { type: string, required: true }'), { tok: SECRET }],
      // even when the current value is harmless: another run's value would land in the plan
      [spec(csv(', headers: { Authorization: "${params.tok}" }'), '', '  tok: { type: string, default: "" }'), {}],
      [spec(csv('', 'https://data.example.com/a.csv?api_key=${params.tok}'), '', `  tok: { type: string, default: "${SECRET}" }`), {}],
    ] as [string, Record<string, string>][]) {
      const { r, printed } = check(text, overrides);
      expect(r.diagnostics.map((d) => d.code)).toEqual(['security.literal-secret']);
      expect(printed).toContain('takes its value from `params.tok`');
      expect(printed).not.toContain(SECRET);
    }
    const url = spec(csv('', '${params.u}'), '', `  u: { type: string, default: "https://data.example.com/a.csv?token=${SECRET}" }`);
    const { printed } = check(url);
    expect(printed).toContain('`source.url` of stage `data`: query parameter `token` takes its value from `params.u`');
    expect(printed).not.toContain(SECRET);
  });

  it("checks a monitor's webhook and URLs and headers in an activity's input", () => {
    const more = `  watch:
    type: monitor
    needs: [data]
    onBreach: { action: alert, webhook: "https://hooks.example.com/x?token=${SECRET}" }
  notify:
    type: activity
    activity: notifyTeam
    input: { urls: ["https://chat.example.com/post?key=${SECRET}"], request: { headers: { authorization: "${SECRET}", accept: json } } }
`;
    const { r, printed } = check(spec('{ type: synthetic, generator: blobs, samples: 10, seed: 1 }', more));
    expect(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.message.split(':')[0]}`)).toEqual([
      '13:41 `onBreach.webhook` of stage `watch`',
      '17:21 `input.urls[0]` of stage `notify`',
      '17:109 `input.request.headers` of stage `notify`',
    ]);
    expect(printed).not.toContain(SECRET);
  });

  it('the human output points at the line without quoting it', () => {
    const text = spec(csv(`, headers: { Authorization: "Bearer ${SECRET}" }`));
    const d = check(text).r.diagnostics[0]!;
    expect(renderHuman(d, text)).toContain('(not shown: the line holds a credential)');
  });

  it.each(['literal-auth-header.yaml', 'literal-url-api-key.yaml', 'literal-secret-from-param.yaml', 'literal-webhook-token.yaml'])(
    'fixture %s: what is printed holds no part of the value',
    async (f) => {
      const file = new URL(`../fixtures/invalid/${f}`, import.meta.url).pathname;
      const text = readFileSync(file, 'utf8');
      const r = await validateFile(file);
      expect(r.diagnostics.map((d) => d.code)).toEqual(['security.literal-secret']);
      const printed = r.diagnostics
        .map((d) => [formatOne(d), renderHuman(d, text), renderGithub(d), JSON.stringify(d)].join('\n'))
        .join('\n');
      for (const value of ['tok-5e1f9a2c', 'ak-27c4d0b9', 'wh-81f03c7d']) {
        expect(printed).not.toContain(value);
        expect(printed).not.toContain(value.slice(3));
      }
    },
  );

  it('names: sensitive headers and query parameters, case-insensitive', () => {
    for (const h of [
      'Authorization',
      'proxy-authorization',
      'Cookie',
      'Set-Cookie',
      'X-API-Key',
      'Api-Key',
      'apikey',
      'X-Auth-Token',
      'X-Refresh-Token',
      'X-Client-Secret',
      'X-Password',
      'X-Passwd',
      'X-Credential',
      'X-Session',
      'X-Goog-Api-Key',
    ]) {
      expect(isSensitiveHeader(h), h).toBe(true);
    }
    for (const h of ['Accept', 'Content-Type', 'User-Agent', 'X-Request-Id', 'If-None-Match']) expect(isSensitiveHeader(h), h).toBe(false);
    for (const q of [
      'token',
      'Access_Token',
      'auth',
      'api_key',
      'APIKEY',
      'key',
      'secret',
      'password',
      'passwd',
      'sig',
      'signature',
      'X-Amz-Signature',
      'X-Goog-Signature',
      'client_secret',
    ]) {
      expect(isSensitiveQueryParam(q), q).toBe(true);
    }
    for (const q of ['keys', 'tokenizer', 'page', 'day', 'session_id']) expect(isSensitiveQueryParam(q), q).toBe(false);
  });
});

describe('credentials never reach printed diagnostics, whatever rule fires', () => {
  it('masks passwords in URLs, sensitive query parameters and header-like key: value pairs, not secret references', () => {
    expect(maskCredentials('see https://bob:hunter2@h.example/x?token=abc&page=2')).toBe(
      'see https://bob:***@h.example/x?token=***&page=2',
    );
    expect(maskCredentials('headers: { Authorization: "Bearer abc", Accept: "text/csv", X-Api-Key: k1 }', { yaml: true })).toBe(
      'headers: { Authorization: "***", Accept: "text/csv", X-Api-Key: *** }',
    );
    expect(maskCredentials("url: 'https://h/x?api_key=${secrets.K}', token: '${secrets.T}'", { yaml: true })).toBe(
      "url: 'https://h/x?api_key=${secrets.K}', token: '${secrets.T}'",
    );
    expect(maskCredentials('units: 16, learningRate: 0.01', { yaml: true })).toBe('units: 16, learningRate: 0.01');
    // messages are prose: only URLs are masked there
    expect(maskCredentials('Unexpected token: EOF in https://h/x?sig=abc')).toBe('Unexpected token: EOF in https://h/x?sig=***');
  });

  it('a schema error on the line of a pasted credential prints that line masked', () => {
    // the bad checksum stops validation at the schema, before the literal-secret rule runs
    const text = spec(csv(`, headers: { Authorization: "Bearer ${SECRET}" }, sha256: nothex`, `https://h.example/a.csv?key=${SECRET}`));
    const { r, codes, printed } = check(text);
    expect(codes.some((c) => c.startsWith('schema.'))).toBe(true);
    expect(codes).not.toContain('security.literal-secret');
    expect(printed).not.toContain(SECRET);
    expect(printed).toContain('Authorization: "***"');
    expect(r.diagnostics.length).toBeGreaterThan(0);
  });
});
