/** Option parsers shared by commands. */
import { InvalidArgumentError } from 'commander';

/** `--param k=v`, repeatable; collects into a record (later wins). */
export function collectParam(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected name=value, got \`${value}\``);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

export function oneOf<T extends string>(allowed: readonly T[]) {
  return (value: string): T => {
    if (!(allowed as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`use one of ${allowed.join(', ')}`);
    }
    return value as T;
  };
}
