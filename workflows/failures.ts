import { ActivityFailure, TemporalFailure, TimeoutFailure } from '@temporalio/workflow';

/** The most useful one-line description of why an activity failed: the innermost cause's message. */
export function describeFailure(err: unknown): string {
  let e: unknown = err;
  let last = err instanceof Error ? err.message : String(err);
  for (let depth = 0; depth < 8 && e instanceof Error; depth++) {
    if (e instanceof TimeoutFailure) {
      last = `activity timed out (${String(e.timeoutType ?? 'unknown')
        .toLowerCase()
        .replace(/_/g, '-')})`;
    } else if (!(e instanceof ActivityFailure)) {
      last = e.message;
    }
    e = e instanceof TemporalFailure ? e.cause : undefined;
  }
  return last;
}
