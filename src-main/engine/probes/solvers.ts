/**
 * The two exact solvers linear probes need, in float64:
 *
 * - ridge regression, min_w (1/n)·‖Xw + b − y‖² + λ‖w‖², by centring and the
 *   normal equations (XᵀX/n + λI) w = Xᵀy/n solved with a Cholesky factor;
 * - multinomial logistic regression with an L2 penalty,
 *   min_{W,b} −(1/n)·Σᵢ log softmax(xᵢW + b)[yᵢ] + (λ/2)‖W‖², by L-BFGS
 *   (Nocedal & Wright, Algorithm 7.4/7.5) with a backtracking Armijo line search.
 *   The objective is strictly convex for λ > 0, so the minimum is unique.
 *
 * No well-kept JavaScript library does both (mljs' logistic regression is
 * one-vs-rest gradient descent with a fixed step), and each is a few dozen lines.
 * X is row-major [n, d]; biases are never penalised.
 */

/** Solves A x = b for a symmetric positive-definite A [d, d] (row-major); A is not modified. */
export function choleskySolve(A: Float64Array, b: Float64Array, d: number): Float64Array {
  const L = new Float64Array(d * d); // lower triangle, A = L Lᵀ
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * d + j];
      for (let k = 0; k < j; k++) s -= L[i * d + k] * L[j * d + k];
      if (i === j) {
        if (!(s > 0)) throw new Error(`choleskySolve: the matrix is not positive definite (pivot ${i} is ${s})`);
        L[i * d + i] = Math.sqrt(s);
      } else L[i * d + j] = s / L[j * d + j];
    }
  }
  const z = new Float64Array(d); // L z = b
  for (let i = 0; i < d; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * d + k] * z[k];
    z[i] = s / L[i * d + i];
  }
  const x = new Float64Array(d); // Lᵀ x = z
  for (let i = d - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < d; k++) s -= L[k * d + i] * x[k];
    x[i] = s / L[i * d + i];
  }
  return x;
}

export interface RidgeModel {
  /** [d] */
  w: Float64Array;
  b: number;
}

/** Ridge regression on rows X [n, d] and targets y [n]. */
export function fitRidge(X: ArrayLike<number>, y: ArrayLike<number>, n: number, d: number, lambda: number): RidgeModel {
  if (n < 1) throw new Error('fitRidge: no rows');
  if (!(lambda > 0)) throw new Error(`fitRidge: λ must be > 0 (got ${lambda})`);
  const mx = new Float64Array(d);
  let my = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) mx[j] += X[i * d + j];
    my += y[i];
  }
  for (let j = 0; j < d; j++) mx[j] /= n;
  my /= n;
  const A = new Float64Array(d * d); // XcᵀXc/n + λI
  const r = new Float64Array(d); // Xcᵀyc/n
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = X[i * d + j] - mx[j];
    const yc = y[i] - my;
    for (let j = 0; j < d; j++) {
      const v = row[j];
      if (v === 0) continue;
      r[j] += v * yc;
      for (let k = 0; k <= j; k++) A[j * d + k] += v * row[k];
    }
  }
  for (let j = 0; j < d; j++) {
    for (let k = 0; k <= j; k++) {
      A[j * d + k] /= n;
      A[k * d + j] = A[j * d + k];
    }
    A[j * d + j] += lambda;
    r[j] /= n;
  }
  const w = choleskySolve(A, r, d);
  let b = my;
  for (let j = 0; j < d; j++) b -= mx[j] * w[j];
  return { w, b };
}

export function predictRidge(m: RidgeModel, x: ArrayLike<number>, offset: number, d: number): number {
  let s = m.b;
  for (let j = 0; j < d; j++) s += m.w[j] * x[offset + j];
  return s;
}

export interface LogisticModel {
  /** [d, K] row-major. */
  W: Float64Array;
  /** [K] */
  b: Float64Array;
  K: number;
  /** L-BFGS iterations used; whether the gradient norm fell below the tolerance. */
  iterations: number;
  converged: boolean;
  /** The objective at the solution. */
  loss: number;
}

export interface LogisticOptions {
  lambda: number;
  maxIterations?: number;
  /** Stop when ‖∇‖∞ falls below this. */
  tolerance?: number;
  /** L-BFGS memory. */
  memory?: number;
}

/** The penalised objective and its gradient at θ = [W (d·K), b (K)]. */
function logisticObjective(X: ArrayLike<number>, y: ArrayLike<number>, n: number, d: number, K: number, lambda: number, theta: Float64Array, grad: Float64Array): number {
  grad.fill(0);
  const W = theta.subarray(0, d * K);
  const b = theta.subarray(d * K);
  const gW = grad.subarray(0, d * K);
  const gb = grad.subarray(d * K);
  const z = new Float64Array(K);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const o = i * d;
    z.set(b);
    for (let j = 0; j < d; j++) {
      const x = X[o + j];
      if (x === 0) continue;
      const wj = j * K;
      for (let k = 0; k < K; k++) z[k] += x * W[wj + k];
    }
    let max = -Infinity;
    for (let k = 0; k < K; k++) if (z[k] > max) max = z[k];
    let sum = 0;
    for (let k = 0; k < K; k++) {
      z[k] = Math.exp(z[k] - max);
      sum += z[k];
    }
    const yi = y[i];
    loss -= Math.log(z[yi] / sum);
    for (let k = 0; k < K; k++) z[k] = z[k] / sum - (k === yi ? 1 : 0); // p − onehot
    for (let k = 0; k < K; k++) gb[k] += z[k];
    for (let j = 0; j < d; j++) {
      const x = X[o + j];
      if (x === 0) continue;
      const wj = j * K;
      for (let k = 0; k < K; k++) gW[wj + k] += x * z[k];
    }
  }
  loss /= n;
  let penalty = 0;
  for (let q = 0; q < d * K; q++) {
    gW[q] = gW[q] / n + lambda * W[q];
    penalty += W[q] * W[q];
  }
  for (let k = 0; k < K; k++) gb[k] /= n;
  return loss + 0.5 * lambda * penalty;
}

const dot = (a: Float64Array, b: Float64Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** Multinomial logistic regression on rows X [n, d] with class indices y [n] in 0..K−1. */
export function fitLogistic(X: ArrayLike<number>, y: ArrayLike<number>, n: number, d: number, K: number, opts: LogisticOptions): LogisticModel {
  const { lambda, maxIterations = 200, tolerance = 1e-5, memory = 10 } = opts;
  if (n < 1) throw new Error('fitLogistic: no rows');
  if (!(lambda > 0)) throw new Error(`fitLogistic: λ must be > 0 (got ${lambda})`);
  for (let i = 0; i < n; i++) if (!(Number.isInteger(y[i]) && y[i] >= 0 && y[i] < K)) throw new Error(`fitLogistic: label ${y[i]} of row ${i} is outside 0..${K - 1}`);
  const P = d * K + K;
  let theta = new Float64Array(P);
  let g = new Float64Array(P);
  let f = logisticObjective(X, y, n, d, K, lambda, theta, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const dir = new Float64Array(P);
  const next = new Float64Array(P);
  const gNext = new Float64Array(P);
  let it = 0;
  let converged = false;
  for (; it < maxIterations; it++) {
    let gmax = 0;
    for (let q = 0; q < P; q++) gmax = Math.max(gmax, Math.abs(g[q]));
    if (gmax < tolerance) {
      converged = true;
      break;
    }
    // Two-loop recursion: dir = −H g.
    dir.set(g);
    const alpha: number[] = new Array(S.length);
    for (let m = S.length - 1; m >= 0; m--) {
      alpha[m] = rho[m] * dot(S[m], dir);
      for (let q = 0; q < P; q++) dir[q] -= alpha[m] * Y[m][q];
    }
    const gamma = S.length ? dot(S[S.length - 1], Y[Y.length - 1]) / dot(Y[Y.length - 1], Y[Y.length - 1]) : 1 / Math.max(1, Math.sqrt(dot(g, g)));
    for (let q = 0; q < P; q++) dir[q] *= gamma;
    for (let m = 0; m < S.length; m++) {
      const beta = rho[m] * dot(Y[m], dir);
      for (let q = 0; q < P; q++) dir[q] += S[m][q] * (alpha[m] - beta);
    }
    for (let q = 0; q < P; q++) dir[q] = -dir[q];
    let slope = dot(g, dir);
    if (!(slope < 0)) {
      // Not a descent direction (curvature lost to rounding): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let q = 0; q < P; q++) dir[q] = -g[q] / Math.max(1, Math.sqrt(dot(g, g)));
      slope = dot(g, dir);
    }
    // Backtracking line search (Armijo, c = 1e-4).
    let step = 1;
    let fNext = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      for (let q = 0; q < P; q++) next[q] = theta[q] + step * dir[q];
      fNext = logisticObjective(X, y, n, d, K, lambda, next, gNext);
      if (fNext <= f + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fNext < f) && !(fNext <= f)) break; // no progress possible in float64
    const s = new Float64Array(P);
    const yv = new Float64Array(P);
    for (let q = 0; q < P; q++) {
      s[q] = next[q] - theta[q];
      yv[q] = gNext[q] - g[q];
    }
    const sy = dot(s, yv);
    if (sy > 1e-12) {
      S.push(s);
      Y.push(yv);
      rho.push(1 / sy);
      if (S.length > memory) {
        S.shift();
        Y.shift();
        rho.shift();
      }
    }
    const improvement = f - fNext;
    [theta, g] = [Float64Array.from(next), Float64Array.from(gNext)];
    f = fNext;
    if (improvement <= 1e-12 * Math.max(1, Math.abs(f))) {
      converged = true;
      break;
    }
  }
  return { W: theta.slice(0, d * K), b: theta.slice(d * K), K, iterations: it, converged, loss: f };
}

/** The most probable class of row x (at `offset`). */
export function predictLogistic(m: LogisticModel, x: ArrayLike<number>, offset: number, d: number): number {
  const z = Float64Array.from(m.b);
  for (let j = 0; j < d; j++) {
    const v = x[offset + j];
    if (v === 0) continue;
    for (let k = 0; k < m.K; k++) z[k] += v * m.W[j * m.K + k];
  }
  let best = 0;
  for (let k = 1; k < m.K; k++) if (z[k] > z[best]) best = k;
  return best;
}
