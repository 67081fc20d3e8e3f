// Smoothing of a chart series (the values as drawn): exponential moving average (debiased, as TensorBoard),
// centred running average and gaussian kernel. `amount` is the slider's value in [0, 1).

export const SMOOTHING = [
  {id: 'none', label: 'None'},
  {id: 'ema', label: 'Exponential moving average'},
  {id: 'running', label: 'Running average'},
  {id: 'gaussian', label: 'Gaussian'},
];

/** The window (in points) the running average and gaussian use for a slider value. */
export function windowFor(amount) {
  return 1 + 2 * Math.round(Math.max(0, Math.min(0.999, amount)) * 50);
}

function ema(y, weight) {
  const out = new Array(y.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (!Number.isFinite(v)) { out[i] = v; continue; }
    last = last * weight + (1 - weight) * v;
    n += 1;
    out[i] = last / (1 - weight ** n);
  }
  return out;
}

function running(y, size) {
  const half = Math.floor(size / 2);
  const out = new Array(y.length);
  // Prefix sums over the finite values, so each point costs O(1).
  const sum = new Float64Array(y.length + 1);
  const cnt = new Uint32Array(y.length + 1);
  for (let i = 0; i < y.length; i++) {
    const ok = Number.isFinite(y[i]);
    sum[i + 1] = sum[i] + (ok ? y[i] : 0);
    cnt[i + 1] = cnt[i] + (ok ? 1 : 0);
  }
  for (let i = 0; i < y.length; i++) {
    const a = Math.max(0, i - half);
    const b = Math.min(y.length, i + half + 1);
    const c = cnt[b] - cnt[a];
    out[i] = c ? (sum[b] - sum[a]) / c : y[i];
  }
  return out;
}

function gaussian(y, size) {
  const half = Math.floor(size / 2);
  const sigma = Math.max(1, size / 4);
  const kernel = [];
  for (let k = -half; k <= half; k++) kernel.push(Math.exp(-(k * k) / (2 * sigma * sigma)));
  const out = new Array(y.length);
  for (let i = 0; i < y.length; i++) {
    let acc = 0;
    let weight = 0;
    for (let k = -half; k <= half; k++) {
      const v = y[i + k];
      if (!Number.isFinite(v)) continue;
      acc += v * kernel[k + half];
      weight += kernel[k + half];
    }
    out[i] = weight ? acc / weight : y[i];
  }
  return out;
}

/** The smoothed values of y; y itself when type is 'none' or amount is 0. */
export function smooth(y, type, amount) {
  if (!y?.length || type === 'none' || !amount) return y;
  if (type === 'ema') return ema(y, Math.min(0.999, amount));
  if (type === 'running') return running(y, windowFor(amount));
  if (type === 'gaussian') return gaussian(y, windowFor(amount));
  return y;
}
