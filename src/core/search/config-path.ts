// Config paths (`model.layers[0].units`) into a train config: a search trial's values, a train stage's `params`.

/** `obj` with `path` (`a.b[2].c`) set to `value`; missing objects on the way are created. */
export function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.').flatMap((part) => {
    const m = /^([^[]+)(?:\[(\d+)\])?$/.exec(part);
    if (!m) throw new Error(`bad config path ${JSON.stringify(path)}`);
    return m[2] !== undefined ? [m[1]!, Number(m[2])] : [m[1]!];
  });
  let cur: Record<string | number, unknown> = obj;
  keys.forEach((k, i) => {
    if (i === keys.length - 1) {
      cur[k] = value;
      return;
    }
    let next = cur[k];
    if (next === undefined || next === null) {
      if (typeof keys[i + 1] === 'number')
        throw new Error(`config path ${path}: ${keys.slice(0, i + 1).join('.')} is not a list in the train config`);
      next = cur[k] = {};
    }
    if (typeof next !== 'object')
      throw new Error(`config path ${path}: ${keys.slice(0, i + 1).join('.')} is a ${typeof next}, not an object`);
    if (typeof keys[i + 1] === 'number' && (!Array.isArray(next) || (keys[i + 1] as number) >= next.length)) {
      throw new Error(`config path ${path}: no item ${keys[i + 1]} in ${String(keys[i])} of the train config`);
    }
    cur = next as Record<string | number, unknown>;
  });
}
