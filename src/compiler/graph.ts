/** The plan's DAG as Mermaid and Graphviz DOT text. Conditional stages are drawn dashed. */
import type { Plan } from '../core/plan.ts';

export function toMermaid(plan: Plan): string {
  const lines = ['flowchart TD'];
  for (const n of plan.nodes) {
    const label = `${n.id}<br/><i>${n.kind}</i>${n.when ? '<br/>when: …' : ''}`;
    lines.push(`  ${n.id}${n.when ? `{{"${label}"}}` : `["${label}"]`}`);
  }
  for (const n of plan.nodes) for (const d of n.needs) lines.push(`  ${d} ${n.when ? '-.->' : '-->'} ${n.id}`);
  return lines.join('\n') + '\n';
}

export function toDot(plan: Plan): string {
  const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const lines = [`digraph ${q(plan.pipeline)} {`, '  rankdir=TB;', '  node [shape=box, style=rounded, fontname="Helvetica"];'];
  for (const n of plan.nodes) {
    const label = `${n.id}\\n(${n.kind})${n.when ? `\\nwhen: ${n.when}` : ''}`;
    lines.push(`  ${q(n.id)} [label=${q(label).replace(/\\\\n/g, '\\n')}${n.when ? ', style="rounded,dashed"' : ''}];`);
  }
  for (const n of plan.nodes) for (const d of n.needs) lines.push(`  ${q(d)} -> ${q(n.id)}${n.when ? ' [style=dashed]' : ''};`);
  lines.push('}');
  return lines.join('\n') + '\n';
}

export function toLevels(plan: Plan): string {
  return plan.levels.map((l, i) => `level ${i}: ${l.join(', ')}`).join('\n') + '\n';
}
