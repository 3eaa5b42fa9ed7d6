/** Graph helpers over `needs`: cycle detection (naming the cycle), ancestors, levels. */

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

/** Every stage that `name` transitively needs, nearest first (breadth-first), each once. */
export function ancestors(needs: Needs, name: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>([name]);
  let frontier = [...(needs[name] ?? [])].sort();
  while (frontier.length) {
    const next: string[] = [];
    for (const n of frontier) {
      if (seen.has(n) || !(n in needs)) continue;
      seen.add(n);
      out.push(n);
      next.push(...[...(needs[n] ?? [])].sort());
    }
    frontier = next;
  }
  return out;
}

/** Breadth-first distance groups of ancestors: [[direct needs], [their needs], …]. */
export function ancestorRings(needs: Needs, name: string): string[][] {
  const rings: string[][] = [];
  const seen = new Set<string>([name]);
  let frontier = [...(needs[name] ?? [])];
  while (frontier.length) {
    const ring = [...new Set(frontier)].filter((n) => !seen.has(n) && n in needs).sort();
    if (!ring.length) break;
    ring.forEach((n) => seen.add(n));
    rings.push(ring);
    frontier = ring.flatMap((n) => needs[n] ?? []);
  }
  return rings;
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
