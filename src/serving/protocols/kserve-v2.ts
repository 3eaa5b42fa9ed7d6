export class V2Error extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}
