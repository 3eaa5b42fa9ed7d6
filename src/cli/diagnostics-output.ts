/** Renders diagnostics for people (with the source line), for machines (JSON) and for GitHub Actions. */
import pc from 'picocolors';
import { CREDENTIAL_CODES, type Diagnostic } from '../spec/diagnostics.ts';
import { maskCredentials } from '../spec/literal-secrets.ts';

export type OutputFormat = 'human' | 'json' | 'github';

function sourceLine(text: string | undefined, line: number): string | undefined {
  return text?.split(/\r?\n/)[line - 1];
}

export function renderHuman(d: Diagnostic, text?: string): string {
  const severity = d.severity === 'error' ? pc.red('error') : pc.yellow('warning');
  const head = `${pc.bold(`${d.file}:${d.line}:${d.column}`)}: ${severity}: ${d.message} ${pc.dim(`[${d.code}]`)}`;
  const src = sourceLine(text, d.line);
  const lines = [head];
  if (src !== undefined && src.trim() !== '' && CREDENTIAL_CODES.has(d.code)) {
    lines.push(pc.dim(`  ${d.line} | `) + pc.dim('(not shown: the line holds a credential)'));
  } else if (src !== undefined && src.trim() !== '') {
    const num = String(d.line);
    lines.push(
      pc.dim(`  ${num} | `) + maskCredentials(src, { yaml: true }),
      pc.dim(`  ${' '.repeat(num.length)} | `) + ' '.repeat(Math.max(0, d.column - 1)) + pc.red('^'),
    );
  }
  if (d.hint) lines.push(`  ${pc.cyan('hint')}: ${d.hint}`);
  return lines.join('\n');
}

/** GitHub Actions workflow command: https://docs.github.com/actions (annotations). */
export function renderGithub(d: Diagnostic): string {
  const prop = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/:/g, '%3A').replace(/,/g, '%2C');
  const data = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const msg = d.hint ? `${d.message} (${d.hint})` : d.message;
  return `::${d.severity} file=${prop(d.file)},line=${d.line},col=${d.column},title=${prop(`mlpipe ${d.code}`)}::${data(msg)}`;
}
