/**
 * The plan's DAG as Mermaid and Graphviz DOT text. Conditional stages are drawn dashed; a forEach
 * stage says that it fans out (and over how many items, when they are written in the file).
 */
import type { Plan, PlanNode } from '../core/plan.ts';

function fanOut(n: PlanNode): string {
  const items = n.forEach?.items;
  return items === undefined ? '' : Array.isArray(items) ? `for each of ${items.length} items` : 'for each item';
}

export function toMermaid(plan: Plan): string {
  const lines = ['flowchart TD'];
  for (const n of plan.nodes) {
    const label = `${n.id}<br/><i>${n.kind}</i>${n.forEach ? `<br/>${fanOut(n)}` : ''}${n.when ? '<br/>when: …' : ''}`;
    lines.push(`  ${n.id}${n.when ? `{{"${label}"}}` : `["${label}"]`}`);
  }
  for (const n of plan.nodes) for (const d of n.needs) lines.push(`  ${d} ${n.when ? '-.->' : '-->'} ${n.id}`);
  return lines.join('\n') + '\n';
}

export function toDot(plan: Plan): string {
  const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const lines = [`digraph ${q(plan.pipeline)} {`, '  rankdir=TB;', '  node [shape=box, style=rounded, fontname="Helvetica"];'];
  for (const n of plan.nodes) {
    const label = `${n.id}\\n(${n.kind})${n.forEach ? `\\n${fanOut(n)}` : ''}${n.when ? `\\nwhen: ${n.when}` : ''}`;
    lines.push(`  ${q(n.id)} [label=${q(label).replace(/\\\\n/g, '\\n')}${n.when ? ', style="rounded,dashed"' : ''}];`);
  }
  for (const n of plan.nodes) for (const d of n.needs) lines.push(`  ${q(d)} -> ${q(n.id)}${n.when ? ' [style=dashed]' : ''};`);
  lines.push('}');
  return lines.join('\n') + '\n';
}

export function toLevels(plan: Plan): string {
  return plan.levels.map((l, i) => `level ${i}: ${l.join(', ')}`).join('\n') + '\n';
}
