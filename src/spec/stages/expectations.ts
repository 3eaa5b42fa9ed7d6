// The checks of an expectation list the schema cannot express, shared by collect's `expect` and
// the expect stage.
import { suggest } from '../schema.ts';
import type { Expectation } from '../types.gen.ts';
import type { CheckContext } from './descriptor.ts';

const RULES = ['range', 'values', 'unique', 'nullShare', 'rows', 'distribution'] as const;

/**
 * One rule per expectation, a column for every rule but `rows`, a known column (when `declared`
 * lists the columns), a reference for `distribution`. `kind` prefixes the diagnostic codes.
 */
export function checkExpectations(list: Expectation[] | undefined, kind: string, c: CheckContext, declared: string[], what: string): void {
  const named = c.pipeline.stages[c.name]?.inputs ?? {};
  list?.forEach((e, i) => {
    const rules = RULES.filter((k) => e[k] !== undefined);
    if (rules.length !== 1) {
      c.report.error(
        c.at('expect', i),
        `${kind}.expect-rule`,
        rules.length ? `this expectation states ${rules.length} rules (${rules.join(', ')})` : 'this expectation states no rule',
        `give exactly one of ${RULES.join(', ')}; write one list item per rule`,
      );
      return;
    }
    const rule = rules[0]!;
    if (rule === 'rows' && e.column !== undefined) {
      c.report.error(
        c.at('expect', i, 'column'),
        `${kind}.expect-column`,
        'a `rows` expectation counts the whole dataset and takes no column',
        'remove `column`',
      );
    } else if (rule !== 'rows' && e.column === undefined) {
      c.report.error(
        c.at('expect', i),
        `${kind}.expect-column`,
        `a \`${rule}\` expectation needs the \`column\` it checks`,
        'add `column: <name>`',
      );
    } else if (e.column !== undefined && declared.length && !declared.includes(e.column)) {
      const s = suggest(e.column, declared);
      c.report.error(
        c.at('expect', i, 'column'),
        `${kind}.expect-column`,
        `column \`${e.column}\` is not ${what}`,
        s ? `did you mean \`${s}\`?` : `declared: ${declared.join(', ')}`,
      );
    }
    if (e.range && e.range.min !== undefined && e.range.max !== undefined && e.range.min > e.range.max) {
      c.report.error(c.at('expect', i, 'range'), `${kind}.expect-range`, `min ${e.range.min} is above max ${e.range.max}`, 'swap them');
    }
    if (e.rows && e.rows.min !== undefined && e.rows.max !== undefined && e.rows.min > e.rows.max) {
      c.report.error(c.at('expect', i, 'rows'), `${kind}.expect-range`, `min ${e.rows.min} is above max ${e.rows.max}`, 'swap them');
    }
    if (rule === 'distribution' && !named.reference) {
      c.report.error(
        c.at('expect', i, 'distribution'),
        `${kind}.expect-reference`,
        'a `distribution` expectation compares with a reference dataset, and this stage names none',
        'add `inputs: { reference: <stage> }` naming an upstream stage whose dataset is the reference (and list it in `needs`)',
      );
    }
  });
}
