import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StageActivityInput, StageKind, ArtifactRef, JsonObject } from '../../src/core/plan.ts';
import { LocalArtifactStore } from '../../src/artifacts/index.ts';
import type { StageEnv } from '../../activities/lib/stage.ts';

export function tempDir(prefix = 'mlpipe-data-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function testEnv(root = tempDir(), over: Partial<StageEnv> = {}): StageEnv & { store: LocalArtifactStore; beats: unknown[] } {
  const beats: unknown[] = [];
  return {
    store: new LocalArtifactStore(join(root, 'artifacts')),
    attempt: 1,
    heartbeat: (d) => beats.push(d),
    heartbeatDetails: undefined,
    beats,
    ...over,
  } as StageEnv & { store: LocalArtifactStore; beats: unknown[] };
}

/** A collect stage's input, its relative source paths resolving in `baseDir` (a plan's `location`). */
export function collectInput(config: Record<string, unknown>, baseDir: string | undefined, workflowId?: string): StageActivityInput {
  return { ...stageInput('collect', config, {}, workflowId), ...(baseDir !== undefined ? { location: { baseDir } } : {}) };
}

export function stageInput(
  kind: StageKind,
  config: Record<string, unknown>,
  inputs: Record<string, ArtifactRef> = {},
  workflowId = 'test/run-1',
): StageActivityInput {
  return {
    run: { workflowId, runId: 'r1', pipeline: 'test', planHash: 'plan-hash', gitSha: 'abc123' },
    stage: kind,
    kind,
    config: config as JsonObject,
    inputs,
    params: {},
  };
}
