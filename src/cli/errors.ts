/** A mistake in how the command was called (bad flag value, missing file): exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure whose details were already printed: main exits 1 without printing more. */
export class ReportedFailure extends Error {
  override name = 'ReportedFailure';
}
