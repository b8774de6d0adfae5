import { chooseEvictionVictim, type EvictionCandidate, type GpuCandidate, type GpuSlots, type Grant, type MemoryLedger } from "@videosdgx/shared";

export interface SimModel {
  name: string;
  residentBytes: number;
  /** Bytes held while loading (weights read to CPU memory, then uploaded). */
  peakBytes: number;
  /** One job's generation time on the GPU. */
  generateMs: number;
  /** Time from nothing to loaded: weights read from disk and uploaded. */
  loadMs: number;
}

export interface SimJob {
  id: number;
  model: string;
  arrivalMs: number;
}

export type Policy = (candidates: GpuCandidate[], nowMs: number) => GpuCandidate | undefined;
export type Eviction = (idle: EvictionCandidate[]) => EvictionCandidate | undefined;

export interface SimResult {
  loads: number;
  /**
   * Generation time / busy time, busy meaning at least one job waits or runs. The simulated GPU never
   * idles while a job waits (memory is freed at once), so this is generation / (generation + loading).
   */
  computeShare: number;
  busyMs: number;
  latenciesMs: number[];
  /** By job id: submission to start of its load or generation. */
  waitsMs: number[];
  /** By job id: GPU time of jobs submitted after it that ran while it waited (what pickNext bounds). */
  passedMs: number[];
  completed: number;
}

/**
 * Runs a job trace through the platform's scheduling policy, GPU slot board and memory ledger (real Redis
 * scripts) with a simulated clock: one GPU slot, one worker per model holding its queue's oldest job, as
 * the workers do. A job for a model that is not loaded reserves its peak in the ledger (evicting idle
 * models as `evict` says, by default the platform's chooseEvictionVictim, until it fits), loads (`loadMs`), shrinks to its resident
 * footprint, then generates; releasing the slot charges its time to the older jobs it passed.
 */
export async function simulate(
  models: SimModel[],
  trace: SimJob[],
  policy: Policy,
  ledger: MemoryLedger,
  slots: GpuSlots,
  evict: Eviction = chooseEvictionVictim,
): Promise<SimResult> {
  const byName = new Map(models.map((m) => [m.name, m]));
  const queues = new Map<string, SimJob[]>(models.map((m) => [m.name, []]));
  const loaded = new Map<string, { grant: Grant; lastUsedAt: number }>();
  const jobs = [...trace].sort((a, b) => a.arrivalMs - b.arrivalMs);
  const result: SimResult = { loads: 0, computeShare: 0, busyMs: 0, latenciesMs: [], waitsMs: [], passedMs: trace.map(() => 0), completed: 0 };
  let now = jobs[0]?.arrivalMs ?? 0;
  let next = 0;
  let computeMs = 0;

  while (result.completed < jobs.length) {
    while (next < jobs.length && jobs[next]!.arrivalMs <= now) queues.get(jobs[next]!.model)!.push(jobs[next++]!);
    for (const [model, q] of queues) {
      if (q.length > 0) await slots.wait({ workerId: model, model, loaded: loaded.has(model), priority: 0, since: q[0]!.arrivalMs });
    }
    const pick = policy(await slots.waiters(), now);
    if (!pick) {
      now = jobs[next]!.arrivalMs;
      continue;
    }
    if (!(await slots.grant(pick.workerId))) throw new Error("the only GPU slot is taken");
    const job = queues.get(pick.model)!.shift()!;
    const model = byName.get(pick.model)!;
    result.waitsMs[job.id] = now - job.arrivalMs;
    const startedAt = now;
    if (!loaded.has(model.name)) {
      let reserved = await ledger.reserve(model.name, model.peakBytes);
      while (!reserved.granted) {
        const victim = evict([...loaded].map(([name, l]) => ({
          id: name, model: name, lastUsedAt: l.lastUsedAt, waitingSince: queues.get(name)![0]?.arrivalMs,
        })));
        if (!victim) throw new Error(`${model.name} cannot fit the budget even with every model unloaded`);
        await ledger.release(loaded.get(victim.id)!.grant);
        loaded.delete(victim.id);
        reserved = await ledger.reserve(model.name, model.peakBytes);
      }
      result.loads++;
      now += model.loadMs;
      await ledger.renew(reserved.grant, model.residentBytes);
      loaded.set(model.name, { grant: reserved.grant, lastUsedAt: now });
    }
    now += model.generateMs;
    computeMs += model.generateMs;
    loaded.get(model.name)!.lastUsedAt = now;
    result.latenciesMs.push(now - job.arrivalMs);
    result.busyMs += now - startedAt;
    result.completed++;
    await slots.release(pick.workerId, { since: job.arrivalMs, heldMs: now - startedAt });
    for (const q of queues.values()) {
      for (const waiting of q) if (waiting.arrivalMs < job.arrivalMs) result.passedMs[waiting.id]! += now - startedAt;
    }
  }
  for (const { grant } of loaded.values()) await ledger.release(grant);
  result.computeShare = computeMs / Math.max(1, result.busyMs);
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
    trace.push({ id, model: models[i < 0 ? models.length - 1 : i]!.name, arrivalMs: Math.round(t) });
  }
  return trace;
}
