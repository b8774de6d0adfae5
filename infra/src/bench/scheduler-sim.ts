import { chooseEvictionVictim, type GpuCandidate, type Grant, type MemoryLedger } from "@videosdgx/shared";

export interface SimModel {
  name: string;
  residentBytes: number;
  /** Bytes held while loading (weights read to CPU memory, then uploaded). */
  peakBytes: number;
  /** One job's generation time on the GPU. */
  generateMs: number;
}

export interface SimJob {
  id: number;
  model: string;
  arrivalMs: number;
}

export type Policy = (candidates: GpuCandidate[], nowMs: number) => GpuCandidate | undefined;

export interface SimResult {
  loads: number;
  /** Time the GPU generates / time from the first arrival to the last completion. */
  computeShare: number;
  latenciesMs: number[];
  longestWaitMs: number;
  completed: number;
}

/**
 * Runs a job trace through the platform's scheduling policy and memory ledger with a simulated clock:
 * one GPU slot, one worker per model; a job for a model that is not loaded reserves its peak in the
 * ledger (evicting least recently used models until it fits), loads (peak / disk bandwidth), shrinks to
 * its resident footprint, then generates.
 */
export async function simulate(
  models: SimModel[],
  trace: SimJob[],
  policy: Policy,
  ledger: MemoryLedger,
  diskBytesPerMs: number,
): Promise<SimResult> {
  const byName = new Map(models.map((m) => [m.name, m]));
  const queues = new Map<string, SimJob[]>(models.map((m) => [m.name, []]));
  const loaded = new Map<string, { grant: Grant; lastUsedAt: number }>();
  const jobs = [...trace].sort((a, b) => a.arrivalMs - b.arrivalMs);
  const result: SimResult = { loads: 0, computeShare: 0, latenciesMs: [], longestWaitMs: 0, completed: 0 };
  let now = jobs[0]?.arrivalMs ?? 0;
  const start = now;
  let next = 0;
  let computeMs = 0;

  while (result.completed < jobs.length) {
    while (next < jobs.length && jobs[next]!.arrivalMs <= now) queues.get(jobs[next]!.model)!.push(jobs[next++]!);
    const candidates: GpuCandidate[] = [...queues.entries()]
      .filter(([, q]) => q.length > 0)
      .map(([model, q]) => ({ workerId: model, model, loaded: loaded.has(model), priority: 0, since: q[0]!.arrivalMs }));
    const pick = policy(candidates, now);
    if (!pick) {
      now = jobs[next]!.arrivalMs;
      continue;
    }
    const job = queues.get(pick.model)!.shift()!;
    const model = byName.get(pick.model)!;
    result.longestWaitMs = Math.max(result.longestWaitMs, now - job.arrivalMs);
    if (!loaded.has(model.name)) {
      let reserved = await ledger.reserve(model.name, model.peakBytes);
      while (!reserved.granted) {
        const victim = chooseEvictionVictim([...loaded].map(([name, l]) => ({ id: name, model: name, lastUsedAt: l.lastUsedAt })));
        if (!victim) throw new Error(`${model.name} cannot fit the budget even with every model unloaded`);
        await ledger.release(loaded.get(victim.id)!.grant);
        loaded.delete(victim.id);
        reserved = await ledger.reserve(model.name, model.peakBytes);
      }
      result.loads++;
      now += model.peakBytes / diskBytesPerMs;
      await ledger.renew(reserved.grant, model.residentBytes);
      loaded.set(model.name, { grant: reserved.grant, lastUsedAt: now });
    }
    now += model.generateMs;
    computeMs += model.generateMs;
    loaded.get(model.name)!.lastUsedAt = now;
    result.latenciesMs.push(now - job.arrivalMs);
    result.completed++;
  }
  for (const { grant } of loaded.values()) await ledger.release(grant);
  result.computeShare = computeMs / Math.max(1, now - start);
  return result;
}

/** Poisson arrivals at `load` x the GPU's capacity, each job for a model drawn by popularity. */
export function poissonTrace(models: SimModel[], popularity: number[], jobs: number, load: number, random: () => number): SimJob[] {
  const meanGenerateMs = models.reduce((s, m, i) => s + m.generateMs * popularity[i]!, 0);
  const meanGapMs = meanGenerateMs / load;
  const trace: SimJob[] = [];
  let t = 0;
  for (let id = 0; id < jobs; id++) {
    t += -Math.log(1 - random()) * meanGapMs;
    let r = random();
    const i = popularity.findIndex((p) => (r -= p) < 0);
    trace.push({ id, model: models[i < 0 ? models.length - 1 : i]!.name, arrivalMs: t });
  }
  return trace;
}
