/** Graph helpers over `needs`: cycle detection (naming the cycle), upstream search, levels. */

export type Needs = Record<string, readonly string[]>;

/** A cycle as a list of names that starts and ends with the same stage, or null. */
export function findCycle(needs: Needs): string[] | null {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 'visiting');
    stack.push(n);
    for (const m of [...(needs[n] ?? [])].sort()) {
      if (!(m in needs)) continue;
      if (state.get(m) === 'visiting') return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of Object.keys(needs).sort()) {
    if (!state.has(n)) {
      const c = visit(n);
      if (c) return c.reverse(); // reversed: read as "a runs before b" along the arrows
    }
  }
  return null;
}

/** Does `name` transitively need `target`? Depth-first with early exit. */
export function isUpstream(needs: Needs, name: string, target: string): boolean {
  const seen = new Set<string>();
  const stack = [...(needs[name] ?? [])];
  while (stack.length) {
    const n = stack.pop()!;
    if (n === target) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const m of needs[n] ?? []) stack.push(m);
  }
  return false;
}

/** Level of each stage: 0 for roots, else 1 + the highest level among its needs. Acyclic input. */
export function levels(needs: Needs): string[][] {
  const level = new Map<string, number>();
  const of = (n: string): number => {
    const known = level.get(n);
    if (known !== undefined) return known;
    const l = Math.max(-1, ...(needs[n] ?? []).map(of)) + 1;
    level.set(n, l);
    return l;
  };
  for (const n of Object.keys(needs)) of(n);
  const out: string[][] = [];
  for (const [n, l] of level) (out[l] ??= []).push(n);
  return out.map((l) => l.sort());
}
