/** Bad input: the activity turns it into a non-retryable `InvalidInput` failure. */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}
