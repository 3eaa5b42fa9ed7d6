/** A located problem in a pipeline file. Lines and columns are 1-based. */
export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning';
  /** Stable identifier of the rule, e.g. `schema.unknown-field`, `dag.cycle`. */
  code: string;
  message: string;
  /** What to do about it, when there is something more specific than the message. */
  hint?: string;
  /** JSON pointer of the offending value in the document ('' for the root). */
  path: string;
}

/**
 * Rules whose offending source line holds a credential: renderers point at the line without
 * quoting it (diagnostics end up in CI logs). Their messages and hints never quote the value.
 */
export const CREDENTIAL_CODES: ReadonlySet<string> = new Set(['security.literal-secret', 'security.url-credentials']);

/** Thrown when a spec cannot be used; carries every diagnostic found, not just the first. */
export class SpecError extends Error {
  override name = 'SpecError';
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatOne).join('\n'));
  }
}

export function formatOne(d: Diagnostic): string {
  const hint = d.hint ? ` (${d.hint})` : '';
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}${hint} [${d.code}]`;
}

export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.message.localeCompare(b.message),
  );
}

/** JSON pointer from path segments (RFC 6901 escaping). */
export function pointer(path: readonly (string | number)[]): string {
  return path.map((p) => '/' + String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}

export function parsePointer(ptr: string): string[] {
  if (ptr === '') return [];
  return ptr
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}
