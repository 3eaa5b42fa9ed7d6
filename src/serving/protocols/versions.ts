// Registry versions as the integers and labels that TF Serving and KServe v2 paths carry.
//   vN (the default `increment` policy)   → N
//   any other name (gitSha, timestamp)     → its registration time in epoch milliseconds
//   label `stable`                         → the primary version
//   label `canary`                         → the candidate (canary or shadow)
//   a registry version name (`v2`) as a label, or as a v2 version string → that version
import type { ModelVersion, RegistryEntry } from '../registry.ts';

export function versionNumber(v: ModelVersion): number {
  const m = /^v(\d+)$/.exec(v.version);
  return m ? Number(m[1]) : Date.parse(v.createdAt);
}

/** The registry version a path names by number, label or name; undefined: no such version. */
export function resolveVersion(e: RegistryEntry, by: { number?: string; label?: string; name?: string }): string | undefined {
  if (by.number !== undefined) return e.versions.find((v) => String(versionNumber(v)) === by.number)?.version;
  const key = by.label ?? by.name;
  if (key === undefined) return undefined;
  if (by.label === 'stable') return e.traffic.primary ?? undefined;
  if (by.label === 'canary') return e.traffic.candidate?.version;
  // v2 paths carry a version string: the number or the registry's own name both work.
  return e.versions.find((v) => v.version === key || (by.name !== undefined && String(versionNumber(v)) === key))?.version;
}

/** Labels that point at `version` now. */
export function labelsOf(e: RegistryEntry, version: string): string[] {
  const out: string[] = [];
  if (e.traffic.primary === version) out.push('stable');
  if (e.traffic.candidate?.version === version) out.push('canary');
  return out;
}
