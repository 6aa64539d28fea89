/**
 * The probe solvers against answers known in closed form: Cholesky solves,
 * ridge's normal equations, and multinomial logistic regression's optimum
 * (a symmetric case solved by bisection, and a zero gradient in general).
 */
import { describe, expect, test } from 'vitest';
import { Rng } from '../../src-main/engine/init.ts';
import { choleskySolve, fitLogistic, fitRidge, predictLogistic, predictRidge } from '../../src-main/engine/probes/solvers.ts';

describe('choleskySolve', () => {
  test('solves a 3×3 symmetric positive-definite system exactly', () => {
    const A = Float64Array.of(4, 2, 0.4, 2, 5, 1, 0.4, 1, 3);
    const x = Float64Array.of(1, -2, 0.5);
    const b = Float64Array.of(4 - 4 + 0.2, 2 - 10 + 0.5, 0.4 - 2 + 1.5);
    const got = choleskySolve(A, b, 3);
    for (let i = 0; i < 3; i++) expect(got[i]).toBeCloseTo(x[i], 12);
  });
  test('refuses a matrix that is not positive definite, naming the pivot', () => {
    expect(() => choleskySolve(Float64Array.of(1, 2, 2, 1), Float64Array.of(1, 1), 2)).toThrow(/not positive definite \(pivot 1/);
  });
});

describe('fitRidge', () => {
  test('one feature: w = cov(x, y) / (var(x) + λ), b = ȳ − w·x̄', () => {
    const x = [1, 2, 3, 4];
    const y = [2, 3, 5, 9];
    const lambda = 0.5;
    const mx = 2.5;
    const my = 4.75;
    const cov = x.reduce((s, v, i) => s + (v - mx) * (y[i] - my), 0) / 4;
    const vr = x.reduce((s, v) => s + (v - mx) ** 2, 0) / 4;
    const m = fitRidge(x, y, 4, 1, lambda);
    expect(m.w[0]).toBeCloseTo(cov / (vr + lambda), 12);
    expect(m.b).toBeCloseTo(my - (cov / (vr + lambda)) * mx, 12);
  });
  test('recovers the weights of a noiseless linear map when λ is tiny', () => {
    const rng = new Rng(3);
    const n = 200;
    const d = 5;
    const w = [0.5, -1, 2, 0, 3];
    const X = new Float64Array(n * d);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) X[i * d + j] = rng.normal();
      y[i] = 1.5 + w.reduce((s, wj, j) => s + wj * X[i * d + j], 0);
    }
    const m = fitRidge(X, y, n, d, 1e-10);
    for (let j = 0; j < d; j++) expect(m.w[j]).toBeCloseTo(w[j], 6);
    expect(m.b).toBeCloseTo(1.5, 6);
    expect(predictRidge(m, X, 3 * d, d)).toBeCloseTo(y[3], 6);
  });
});

describe('fitLogistic', () => {
  test('x = ±1 with labels 0/1: the optimum is W = [−u, u] with λu = σ(−2u)', () => {
    const lambda = 0.1;
    // Bisection on λu − σ(−2u), increasing in u.
    let lo = 0;
    let hi = 50;
    for (let i = 0; i < 200; i++) {
      const u = (lo + hi) / 2;
      if (lambda * u - 1 / (1 + Math.exp(2 * u)) > 0) hi = u;
      else lo = u;
    }
    const u = (lo + hi) / 2;
    const m = fitLogistic([-1, 1], [0, 1], 2, 1, 2, { lambda, tolerance: 1e-10 });
    expect(m.converged).toBe(true);
    expect(m.W[1]).toBeCloseTo(u, 6);
    expect(m.W[0]).toBeCloseTo(-u, 6);
    expect(m.b[0] - m.b[1]).toBeCloseTo(0, 6);
    expect(m.loss).toBeCloseTo(Math.log(1 + Math.exp(-2 * u)) + lambda * u * u, 8);
  });

  test('three classes in two dimensions: stationary (zero gradient) and accurate on separable clusters', () => {
    const rng = new Rng(5);
    const centres = [[3, 0], [-3, 0], [0, 3]];
    const n = 150;
    const X = new Float64Array(n * 2);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const k = i % 3;
      y[i] = k;
      X[2 * i] = centres[k][0] + 0.5 * rng.normal();
      X[2 * i + 1] = centres[k][1] + 0.5 * rng.normal();
    }
    const lambda = 1e-2;
    const m = fitLogistic(X, y, n, 2, 3, { lambda, tolerance: 1e-8, maxIterations: 500 });
    expect(m.converged).toBe(true);
    // The gradient at the solution, by central differences of the objective.
    const objective = (W: Float64Array, b: Float64Array) => {
      let loss = 0;
      for (let i = 0; i < n; i++) {
        const z = [0, 1, 2].map((k) => b[k] + X[2 * i] * W[k] + X[2 * i + 1] * W[3 + k]);
        const max = Math.max(...z);
        const lse = max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
        loss += lse - z[y[i]];
      }
      return loss / n + 0.5 * lambda * W.reduce((s, v) => s + v * v, 0);
    };
    const h = 1e-5;
    for (let q = 0; q < 6; q++) {
      const up = Float64Array.from(m.W);
      const down = Float64Array.from(m.W);
      up[q] += h;
      down[q] -= h;
      expect(Math.abs((objective(up, m.b) - objective(down, m.b)) / (2 * h))).toBeLessThan(1e-5);
    }
    let right = 0;
    for (let i = 0; i < n; i++) if (predictLogistic(m, X, 2 * i, 2) === y[i]) right++;
    expect(right / n).toBeGreaterThan(0.97);
  });

  test('a label outside the classes is refused, naming its row', () => {
    expect(() => fitLogistic([0, 1], [0, 3], 2, 1, 2, { lambda: 1 })).toThrow(/label 3 of row 1 is outside 0\.\.1/);
  });
});
