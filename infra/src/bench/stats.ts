/** Percentile by nearest rank over a copy of the samples. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface BenchRow {
  bench: string;
  metric: string;
  unit: string;
  platform: number;
  baseline: number;
  baseline_name: string;
  /** platform / baseline, oriented so that higher is better for the platform. */
  ratio: number;
  target: string;
  pass: boolean;
  /** Where the platform's time excludes ONNX Runtime's: the latter's time per unit, for the reader. */
  runtime?: number;
}

export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
