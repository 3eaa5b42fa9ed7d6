// Grid search: every combination of each dimension's grid values; a choice value with a
// sub-space contributes its value combined with every point of that sub-space's grid.
import { choiceValue, sortedDims, subSpace, type Dimension, type ParamValues, type Scalar, type Space } from './space.ts';

/** Points per axis of a continuous dimension (and of an int range with many values) in a grid. */
export const GRID_POINTS = 3;

const spread = (i: number) => i / (GRID_POINTS - 1);

function axis(d: Exclude<Dimension, { type: 'choice' }>): Scalar[] {
  if (d.type === 'int') {
    const step = d.step ?? 1;
    const all: number[] = [];
    for (let v = d.min; v <= d.max; v += step) all.push(v);
    if (all.length <= GRID_POINTS * 2) return all;
    if (!d.log) return Array.from({ length: GRID_POINTS }, (_, i) => all[Math.round(spread(i) * (all.length - 1))]!);
    // Evenly spaced in the log, rounded to the nearest integer.
    return Array.from({ length: GRID_POINTS }, (_, i) =>
      Math.round(Math.exp(Math.log(d.min) + spread(i) * (Math.log(d.max) - Math.log(d.min)))),
    );
  }
  return Array.from({ length: GRID_POINTS }, (_, i) => {
    const f = spread(i);
    return d.type === 'uniform' ? d.min + f * (d.max - d.min) : Math.exp(Math.log(d.min) + f * (Math.log(d.max) - Math.log(d.min)));
  });
}

/** Every combination: choice values (with their sub-grids), all ints (or GRID_POINTS of them), GRID_POINTS of a range. */
export function gridParams(space: Space): ParamValues[] {
  let out: ParamValues[] = [{}];
  for (const [path, d] of sortedDims(space)) {
    const options: ParamValues[] =
      d.type === 'choice'
        ? d.values.flatMap((c) => {
            const sub = subSpace(c);
            const own = { [path]: choiceValue(c) };
            return sub ? gridParams(sub).map((g) => ({ ...own, ...g })) : [own];
          })
        : axis(d).map((v) => ({ [path]: v }));
    out = out.flatMap((p) => options.map((o) => ({ ...p, ...o })));
  }
  return out;
}
