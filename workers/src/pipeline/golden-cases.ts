import { readFile } from "node:fs/promises";
import { z } from "zod";
import { createSampler } from "./sampler.js";
import { parseSchedulerConfig } from "./scheduler-config.js";

/** The final latent must be within this of diffusers' (../shared/reference/golden/README.md). */
export const FINAL_TOLERANCE = 1e-5;

/** One case of a golden file: a scheduler config, a schedule and a whole probe-ODE run by diffusers. */
const caseSchema = z.object({
  config: z.record(z.string(), z.unknown()),
  steps: z.number().int().positive(),
  n: z.number().int().positive(),
  seq_len: z.number().int().positive().nullish(),
  timesteps: z.array(z.number()),
  final: z.array(z.number()),
});
const fileSchema = z.record(z.string(), caseSchema).refine((f) => Object.keys(f).length > 0, { message: "has no cases" });

export type GoldenCase = z.output<typeof caseSchema>;

export interface CaseOutcome {
  name: string;
  /** Largest |ours - diffusers'| over the timesteps (compared as float32, as diffusers holds them). */
  timestepDeviation: number;
  /** Largest |ours - diffusers'| over the final latent. */
  finalDeviation: number;
  ok: boolean;
  /** Why the case could not run (its config refused, its lengths inconsistent). */
  error?: string;
}

/** Reads a golden file; throws a readable message when it is missing or not in the format. */
export async function readGoldenFile(file: string): Promise<Record<string, GoldenCase>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not JSON: ${(err as Error).message}`);
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${file} is not a golden scheduler file:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/**
 * The probe ODE of the golden README through our sampler: x[i] = sin(0.37 i + 0.1), and at each step
 * v[i] = 0.3 x[i] - cos(0.01 t + 0.1 i) with t the scheduler's own timestep.
 */
export function runProbe(c: GoldenCase): { timesteps: Float32Array; final: Float32Array } {
  const sampler = createSampler(parseSchedulerConfig(c.config), { steps: c.steps, size: c.n, imageSeqLen: c.seq_len ?? 0 });
  const x = new Float32Array(c.n);
  const v = new Float32Array(c.n);
  for (let i = 0; i < c.n; i++) x[i] = Math.sin(0.37 * i + 0.1);
  for (let k = 0; k < c.steps; k++) {
    const t = sampler.timesteps[k]!;
    for (let i = 0; i < c.n; i++) v[i] = 0.3 * x[i]! - Math.cos(0.01 * t + 0.1 * i);
    sampler.step(k, x, { v });
  }
  return { timesteps: sampler.timesteps, final: x };
}

const maxDeviation = (ours: ArrayLike<number>, theirs: number[], round: (v: number) => number = (v) => v): number => {
  let max = 0;
  for (let i = 0; i < theirs.length; i++) max = Math.max(max, Math.abs(ours[i]! - round(theirs[i]!)));
  return max;
};

export function checkCase(name: string, c: GoldenCase): CaseOutcome {
  const failed = (error: string): CaseOutcome => ({ name, timestepDeviation: NaN, finalDeviation: NaN, ok: false, error });
  if (c.timesteps.length !== c.steps) return failed(`has ${c.timesteps.length} timesteps for ${c.steps} steps`);
  if (c.final.length !== c.n) return failed(`has ${c.final.length} final values for n = ${c.n}`);
  let run: ReturnType<typeof runProbe>;
  try {
    run = runProbe(c);
  } catch (err) {
    return failed((err as Error).message);
  }
  const timestepDeviation = maxDeviation(run.timesteps, c.timesteps, Math.fround);
  const finalDeviation = maxDeviation(run.final, c.final);
  // NaN compares false: a non-finite latent is never within tolerance.
  return { name, timestepDeviation, finalDeviation, ok: timestepDeviation === 0 && finalDeviation <= FINAL_TOLERANCE };
}
