/**
 * The bench's baseline: the same DAG shapes as hand-written Temporal code with no-op activities,
 * no interpreter. mlpipe's overhead is measured against this (bench/orchestration.ts).
 */
import { proxyActivities } from '@temporalio/workflow';

const { baselineNoop } = proxyActivities<{ baselineNoop(i: number): Promise<{ ok: boolean }> }>({
  startToCloseTimeout: 60_000,
  retry: { maximumAttempts: 1 },
});

export async function baselineChain(n: number): Promise<number> {
  for (let i = 0; i < n; i++) await baselineNoop(i);
  return n;
}

export async function baselineFanOut(n: number): Promise<number> {
  await baselineNoop(0);
  await Promise.all(Array.from({ length: n - 2 }, (_, i) => baselineNoop(i + 1)));
  await baselineNoop(n - 1);
  return n;
}
