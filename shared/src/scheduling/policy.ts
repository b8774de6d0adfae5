/** A worker that has a job in hand and waits for a GPU slot. */
export interface GpuCandidate {
  workerId: string;
  model: string;
  /** The worker's model is loaded now: running it costs no swap. */
  loaded: boolean;
  /** BullMQ priority of its job: lower runs first (0 = default). */
  priority: number;
  /** When its job was submitted (ms): the measure of how long it has waited. */
  since: number;
}

/**
 * Which waiting job gets the GPU next: the one place this is decided, used by the workers' arbiter and by
 * the scheduler benchmark alike.
 *
 * 1. Bounded waiting: a job that has waited longer than `maxWaitMs` goes first (the longest-waiting one),
 *    so no job starves behind a stream of jobs for a loaded model.
 * 2. Otherwise the highest priority (lowest number).
 * 3. Among equals, a job whose model is already loaded (no swap), then the oldest.
 */
export function pickNext(candidates: readonly GpuCandidate[], now: number, maxWaitMs: number): GpuCandidate | undefined {
  if (candidates.length === 0) return undefined;
  const overdue = candidates.filter((c) => now - c.since > maxWaitMs);
  if (overdue.length > 0) return overdue.reduce((a, b) => (b.since < a.since ? b : a));
  return [...candidates].sort(
    (a, b) => a.priority - b.priority || Number(b.loaded) - Number(a.loaded) || a.since - b.since,
  )[0];
}

/** Plain first-come first-served, the baseline the benchmark compares against. */
export function pickFifo(candidates: readonly GpuCandidate[]): GpuCandidate | undefined {
  return candidates.reduce<GpuCandidate | undefined>((a, b) => (!a || b.since < a.since ? b : a), undefined);
}

/** An idle loaded model that could be unloaded to make room. */
export interface EvictionCandidate {
  id: string;
  model: string;
  lastUsedAt: number;
}

/** Least recently used first. Models running a job are never candidates (the caller filters them out). */
export function chooseEvictionVictim<T extends EvictionCandidate>(idle: readonly T[]): T | undefined {
  return idle.reduce<T | undefined>((a, b) => (!a || b.lastUsedAt < a.lastUsedAt ? b : a), undefined);
}
