// The truncated normal distribution as Optuna's TPE computes it (optuna/samplers/_tpe/
// _truncnorm.py, itself from SciPy): log-space probability masses so that kernels far outside
// the range keep their precision, and the quantile function by Newton's method on log Φ.
// `a`, `b` are the bounds in standard units ((bound - mu) / sigma).
import erf from '@stdlib/math-base-special-erf';
import erfc from '@stdlib/math-base-special-erfc';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const LOGISTIC_C = Math.sqrt(3) / Math.PI;

/** Φ(a), the standard normal CDF, taking erfc in the tails where 1 ± erf would cancel. */
function ndtr(a: number): number {
  const x = a / Math.SQRT2;
  if (x < -Math.SQRT1_2) return 0.5 * erfc(-x);
  if (x < Math.SQRT1_2) return 0.5 + 0.5 * erf(x);
  return 1 - 0.5 * erfc(x);
}

/** log Φ(a); below -20 by the asymptotic series, where Φ underflows. */
export function logNdtr(a: number): number {
  if (a > 6) return -ndtr(-a);
  if (a > -20) return Math.log(ndtr(a));
  const logLhs = -0.5 * a * a - Math.log(-a) - LOG_SQRT_2PI;
  let last = 0;
  let rhs = 1;
  let numerator = 1;
  let denomFactor = 1;
  const denomCons = 1 / (a * a);
  let sign = 1;
  for (let i = 1; Math.abs(last - rhs) > Number.EPSILON; i++) {
    last = rhs;
    sign = -sign;
    denomFactor *= denomCons;
    numerator *= 2 * i - 1;
    rhs += sign * numerator * denomFactor;
  }
  return logLhs + Math.log(rhs);
}

const logDiff = (logP: number, logQ: number) => logP + Math.log1p(-Math.exp(logQ - logP));

function logAddExp(x: number, y: number): number {
  const m = Math.max(x, y);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(Math.exp(x - m) + Math.exp(y - m));
}

/** log of the standard normal mass in [a, b], worked in the left tail for accuracy. */
export function logGaussMass(a: number, b: number): number {
  if (b <= 0) return logDiff(logNdtr(b), logNdtr(a));
  if (a > 0) return logDiff(logNdtr(-a), logNdtr(-b));
  // Central: 1 - Φ(a) - Φ(-b) avoids the cancellation of Φ(b) - Φ(a) near 1.
  return Math.log1p(-(0.5 + 0.5 * erf(a / Math.SQRT2)) - (0.5 + 0.5 * erf(-b / Math.SQRT2)));
}

/** x with log Φ(x) = y, by Newton's method from a tail or logistic first guess. */
function ndtriExp(y: number): number {
  const flipped = y > -1e-2;
  const z = flipped ? Math.log(-Math.expm1(y)) : y;
  let x = z < -5 ? -Math.sqrt(-2 * (z + LOG_SQRT_2PI)) : -LOGISTIC_C * Math.log(Math.expm1(-z));
  for (let i = 0; i < 100; i++) {
    const logNdtrX = logNdtr(x);
    const logPdfX = -0.5 * x * x - LOG_SQRT_2PI;
    const dx = (logNdtrX - z) * Math.exp(logNdtrX - logPdfX);
    x -= dx;
    if (Math.abs(dx) < 1e-8 * Math.abs(x)) break;
  }
  return flipped ? -x : x;
}

/** The quantile q of the standard normal truncated to [a, b]. */
export function ppf(q: number, a: number, b: number): number {
  if (a === b) return NaN;
  if (q === 0) return a;
  if (q === 1) return b;
  const logMass = logGaussMass(a, b);
  if (a < 0) return ndtriExp(logAddExp(logNdtr(a), Math.log(q) + logMass));
  return -ndtriExp(logAddExp(logNdtr(-b), Math.log1p(-q) + logMass));
}

/** A draw from N(loc, scale²) truncated to [loc + a·scale, loc + b·scale], from a uniform u. */
export function truncnormFromUniform(u: number, a: number, b: number, loc: number, scale: number): number {
  return ppf(u, a, b) * scale + loc;
}

/** log density of N(loc, scale²) truncated to [loc + a·scale, loc + b·scale] at x. */
export function truncnormLogPdf(x: number, a: number, b: number, loc: number, scale: number): number {
  if (a === b) return NaN;
  const z = (x - loc) / scale;
  if (z < a || z > b) return -Infinity;
  return -0.5 * z * z - LOG_SQRT_2PI - logGaussMass(a, b) - Math.log(scale);
}
