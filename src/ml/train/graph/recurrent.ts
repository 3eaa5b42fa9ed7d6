// LSTM and GRU layers for the graph training step, unrolled over their (static) sequence
// length, with backpropagation through time written out. The cell math follows tfjs-layers'
// LSTMCell and GRUCell exactly (tfjs's "implementation 2": one kernel product per step, gates
// split from it; zero initial state), so the graph and eager engines train alike.
import type { Activation } from '../model-spec.ts';
import type { Ref } from './function-def.ts';
import type { Ops } from './ops.ts';

export type ActivationFns = {
  apply: (act: Activation, z: Ref) => Ref;
  /** d(loss)/dz from d(loss)/da for a = act(z). */
  grad: (act: Activation, da: Ref, z: Ref, a: Ref) => Ref;
};

export interface RecurrentSpec {
  kind: 'lstm' | 'gru';
  units: number;
  steps: number;
  features: number;
  activation: Activation;
  recurrentActivation: Activation;
  returnSequences: boolean;
}

/** Dropout masks, drawn once per batch and shared by every step (as tfjs does). */
export interface RecurrentMasks {
  /** [B, features], on every step's input. */
  x?: Ref;
  /** [B, units], on the previous state where the cell reads it. */
  h?: Ref;
}

export interface RecurrentWeights {
  kernel: Ref;
  recurrentKernel: Ref;
  bias: Ref;
}

export interface RecurrentTape {
  output: Ref;
  /** Gradients of kernel, recurrent kernel and bias, and (when asked) of the input. */
  backward: (dOut: Ref, needDx: boolean) => { kernel: Ref; recurrentKernel: Ref; bias: Ref; dx?: Ref };
}

/** Forward pass over `x` [B, T, D]; the returned tape computes the gradients. */
export function recurrent(
  o: Ops,
  f: ActivationFns,
  spec: RecurrentSpec,
  x: Ref,
  w: RecurrentWeights,
  masks: RecurrentMasks = {},
): RecurrentTape {
  const gates = spec.kind === 'lstm' ? 4 : 3;
  const U = spec.units;
  const T = spec.steps;
  const xMask = masks.x ? o.reshape(masks.x, o.constI([-1, 1, spec.features])) : null;
  // the input's contribution to every gate at every step: one product for the whole sequence
  const xFlat = o.reshape(xMask ? o.mul(x, xMask) : x, o.constI([-1, spec.features]));
  const xw = o.biasAdd(o.matMul(xFlat, w.kernel), w.bias);
  const xwSteps = o.unpack(o.reshape(xw, o.constI([-1, T, gates * U])), T, 1);
  const cell = spec.kind === 'lstm' ? lstmCell : gruCell;
  const run = cell(o, f, spec, xwSteps, w.recurrentKernel, masks.h ?? null);
  const output = spec.returnSequences ? o.pack(run.hs, 1) : run.hs[T - 1]!;
  return {
    output,
    backward: (dOut, needDx) => {
      const dhExternal: Array<Ref | null> = spec.returnSequences ? o.unpack(dOut, T, 1) : [...Array<null>(T - 1).fill(null), dOut];
      const { dxw, dRecurrent } = run.backward(dhExternal);
      const dxwFlat = o.reshape(o.pack(dxw, 1), o.constI([-1, gates * U]));
      return {
        kernel: o.matMul(xFlat, dxwFlat, true, false),
        recurrentKernel: dRecurrent,
        bias: o.biasAddGrad(dxwFlat),
        dx: needDx ? masked(o, o.reshape(o.matMul(dxwFlat, w.kernel, false, true), o.constI([-1, T, spec.features])), xMask) : undefined,
      };
    },
  };
}

interface CellRun {
  hs: Ref[];
  /** From d(loss)/dh_t coming from above (null: none), the gradients of each step's x·W + b and of the recurrent kernel. */
  backward: (dhExternal: Array<Ref | null>) => { dxw: Ref[]; dRecurrent: Ref };
}

const sum = (o: Ops, a: Ref | null, b: Ref | null): Ref | null => (a && b ? o.add(a, b) : (a ?? b));
const masked = (o: Ops, d: Ref, mask: Ref | null): Ref => (mask ? o.mul(d, mask) : d);

function lstmCell(o: Ops, f: ActivationFns, spec: RecurrentSpec, xw: Ref[], rk: Ref, hMask: Ref | null): CellRun {
  const ra = spec.recurrentActivation;
  const act = spec.activation;
  type Step = { z: Ref[]; i: Ref; f: Ref; g: Ref; o: Ref; c: Ref; ac: Ref; h: Ref; hPrev: Ref | null; cPrev: Ref | null };
  const steps: Step[] = [];
  let h: Ref | null = null;
  let c: Ref | null = null;
  for (let t = 0; t < xw.length; t++) {
    // h_0 = c_0 = 0: the first step has no recurrent product; the state is read through the mask
    const hRead = h ? masked(o, h, hMask) : null;
    const zAll: Ref = hRead ? o.add(xw[t]!, o.matMul(hRead, rk)) : xw[t]!;
    const z = o.split(zAll, 4, 1);
    const ig = f.apply(ra, z[0]!);
    const fg = f.apply(ra, z[1]!);
    const g = f.apply(act, z[2]!);
    const og = f.apply(ra, z[3]!);
    const cNew: Ref = c ? o.add(o.mul(fg, c), o.mul(ig, g)) : o.mul(ig, g);
    const ac = f.apply(act, cNew);
    const hNew: Ref = o.mul(og, ac);
    steps.push({ z, i: ig, f: fg, g, o: og, c: cNew, ac, h: hNew, hPrev: hRead, cPrev: c });
    h = hNew;
    c = cNew;
  }
  return {
    hs: steps.map((s) => s.h),
    backward: (dhExternal) => {
      const dxw: Ref[] = new Array(steps.length);
      const dRk: Ref[] = [];
      let dhNext: Ref | null = null;
      let dcNext: Ref | null = null;
      for (let t = steps.length - 1; t >= 0; t--) {
        const s = steps[t]!;
        const dh = sum(o, dhExternal[t] ?? null, dhNext);
        if (!dh) throw new Error('lstm: no gradient reaches the last step');
        const dz3 = f.grad(ra, o.mul(dh, s.ac), s.z[3]!, s.o);
        const dc = sum(o, f.grad(act, o.mul(dh, s.o), s.c, s.ac), dcNext)!;
        const dz0 = f.grad(ra, o.mul(dc, s.g), s.z[0]!, s.i);
        const dz2 = f.grad(act, o.mul(dc, s.i), s.z[2]!, s.g);
        const dz1 = s.cPrev ? f.grad(ra, o.mul(dc, s.cPrev), s.z[1]!, s.f) : o.zerosLike(dz0);
        const dz = o.concat([dz0, dz1, dz2, dz3], 1);
        dxw[t] = dz;
        if (s.hPrev) {
          dRk.push(o.matMul(s.hPrev, dz, true, false));
          dhNext = masked(o, o.matMul(dz, rk, false, true), hMask);
          dcNext = o.mul(dc, s.f);
        }
      }
      return { dxw, dRecurrent: dRk.length ? o.addN(dRk) : o.zerosLike(rk) };
    },
  };
}

function gruCell(o: Ops, f: ActivationFns, spec: RecurrentSpec, xw: Ref[], rk: Ref, hMask: Ref | null): CellRun {
  const ra = spec.recurrentActivation;
  const act = spec.activation;
  const U = spec.units;
  // update and reset gates read h through rk[:, :2U], the candidate reads r*h through rk[:, 2U:]
  const [rkZR, rkH] = o.splitSizes(rk, [2 * U, U], 1) as [Ref, Ref];
  type Step = { preZ: Ref; preR: Ref | null; preH: Ref; z: Ref; r: Ref | null; hh: Ref; rh: Ref | null; h: Ref; hPrev: Ref | null };
  const steps: Step[] = [];
  let h: Ref | null = null;
  for (let t = 0; t < xw.length; t++) {
    const [xZ, xR, xH] = o.split(xw[t]!, 3, 1) as [Ref, Ref, Ref];
    let s: Step;
    if (!h) {
      // h_0 = 0: r does not matter and the candidate has no recurrent term
      const z = f.apply(ra, xZ);
      const hh = f.apply(act, xH);
      s = { preZ: xZ, preR: null, preH: xH, z, r: null, hh, rh: null, h: o.mul(o.sub(o.constF([1]), z), hh), hPrev: null };
    } else {
      // tfjs's GRU uses the masked previous state everywhere in the step, the carry included
      const hm = masked(o, h, hMask);
      const [recZ, recR] = o.split(o.matMul(hm, rkZR), 2, 1) as [Ref, Ref];
      const preZ = o.add(xZ, recZ);
      const preR = o.add(xR, recR);
      const z = f.apply(ra, preZ);
      const r = f.apply(ra, preR);
      const rh = o.mul(r, hm);
      const preH = o.add(xH, o.matMul(rh, rkH));
      const hh = f.apply(act, preH);
      s = { preZ, preR, preH, z, r, hh, rh, h: o.add(o.mul(z, hm), o.mul(o.sub(o.constF([1]), z), hh)), hPrev: hm };
    }
    steps.push(s);
    h = s.h;
  }
  return {
    hs: steps.map((s) => s.h),
    backward: (dhExternal) => {
      const dxw: Ref[] = new Array(steps.length);
      const dRkZR: Ref[] = [];
      const dRkH: Ref[] = [];
      let dhNext: Ref | null = null;
      for (let t = steps.length - 1; t >= 0; t--) {
        const s = steps[t]!;
        const dh = sum(o, dhExternal[t] ?? null, dhNext);
        if (!dh) throw new Error('gru: no gradient reaches the last step');
        // h = z*hPrev + (1 - z)*hh
        const dPreH = f.grad(act, o.mul(dh, o.sub(o.constF([1]), s.z)), s.preH, s.hh);
        const dzGate = s.hPrev ? o.mul(dh, o.sub(s.hPrev, s.hh)) : o.neg(o.mul(dh, s.hh));
        const dPreZ = f.grad(ra, dzGate, s.preZ, s.z);
        if (!s.hPrev) {
          dxw[t] = o.concat([dPreZ, o.zerosLike(dPreZ), dPreH], 1);
          continue;
        }
        const dRh = o.matMul(dPreH, rkH, false, true);
        dRkH.push(o.matMul(s.rh!, dPreH, true, false));
        const dPreR = f.grad(ra, o.mul(dRh, s.hPrev), s.preR!, s.r!);
        const dZR = o.concat([dPreZ, dPreR], 1);
        dRkZR.push(o.matMul(s.hPrev, dZR, true, false));
        dxw[t] = o.concat([dPreZ, dPreR, dPreH], 1);
        dhNext = masked(o, o.addN([o.mul(dh, s.z), o.mul(dRh, s.r!), o.matMul(dZR, rkZR, false, true)]), hMask);
      }
      const zeros = (): Ref => o.zerosLike(rk);
      const dRecurrent = dRkZR.length ? o.concat([o.addN(dRkZR), o.addN(dRkH)], 1) : zeros();
      return { dxw, dRecurrent };
    },
  };
}
