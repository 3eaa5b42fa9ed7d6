import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findTemporalCli, TemporalCliNotFound } from '../../src/temporal/cli-binary.ts';
import { connectionConfig } from '../../src/temporal/connection.ts';
import { searchAttributeFlags } from '../../src/temporal/search-attributes.ts';

describe('connection config', () => {
  it('defaults to the local dev server', () => {
    expect(connectionConfig({}, {})).toEqual({ address: '127.0.0.1:7233', namespace: 'default' });
  });
  it('flags win over env; TLS from either', () => {
    const env = { MLPIPE_TEMPORAL_ADDRESS: 'env:7233', MLPIPE_TEMPORAL_NAMESPACE: 'envns', MLPIPE_TEMPORAL_TLS_CA: '/ca.pem' };
    expect(connectionConfig({ address: 'flag:7233' }, env)).toEqual({
      address: 'flag:7233',
      namespace: 'envns',
      tls: { caPath: '/ca.pem', certPath: undefined, keyPath: undefined, serverName: undefined },
    });
  });
  it('refuses half a client certificate pair', () => {
    expect(() => connectionConfig({ tlsCert: '/c.pem' }, {})).toThrow(/both --tls-cert and --tls-key/);
  });
});

describe('temporal CLI discovery', () => {
  it('uses TEMPORAL_CLI_PATH, then PATH', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-cli-'));
    const exe = join(dir, 'temporal');
    writeFileSync(exe, '#!/bin/sh\n');
    chmodSync(exe, 0o755);
    expect(findTemporalCli({ TEMPORAL_CLI_PATH: exe })).toBe(exe);
    expect(findTemporalCli({ PATH: `/nonexistent:${dir}` })).toBe(exe);
  });
  it('names the fix when the path given is wrong', () => {
    expect(() => findTemporalCli({ TEMPORAL_CLI_PATH: '/no/such/temporal' })).toThrow(TemporalCliNotFound);
  });
  it('registers the four mlpipe search attributes with the dev server', () => {
    expect(searchAttributeFlags()).toEqual([
      '--search-attribute',
      'MlpipePipeline=Keyword',
      '--search-attribute',
      'MlpipeGitSha=Keyword',
      '--search-attribute',
      'MlpipePlanHash=Keyword',
      '--search-attribute',
      'MlpipeTrigger=Keyword',
    ]);
  });
});
