/** A worker that has a job in hand and waits for a GPU slot. */
export interface GpuWaiter {
  workerId: string;
  model: string;
  /** The worker's model is loaded now: running it costs no swap. */
  loaded: boolean;
  /** BullMQ priority of its job: lower runs first (0 = default). */
  priority: number;
  /** When its job was submitted (ms): what "older" and "younger" mean below. */
  since: number;
}

/** A waiter as the policy sees it: with the GPU time younger jobs took while its job waited. */
export interface GpuCandidate extends GpuWaiter {
  passedMs: number;
}

/**
 * GPU time taken by jobs that passed a job: each entry is one job that ran while jobs of a model waited,
 * as [its submission time, its time on the GPU]. Kept per model by gpu-release.lua.
 */
export type PassLog = [since: number, heldMs: number][];

/** How long younger jobs held the GPU while the job submitted at `since` waited. */
export function passedMs(log: PassLog, since: number): number {
  return log.reduce((sum, [s, ms]) => (s > since ? sum + ms : sum), 0);
}

/**
 * Which waiting job gets the GPU next: the one place this is decided, used by the workers' arbiter and by
 * the scheduler benchmark alike.
 *
 * 1. Bounded passing: a job can be passed by younger jobs for `maxWaitMs` of their GPU time; once that is
 *    used up, nothing younger than it starts before it. What reordering adds to any job's wait is thus at
 *    most `maxWaitMs` plus the one job that started while some budget was left, however far behind the
 *    host is (a bound on the wait itself, "waited `maxWaitMs`, goes first", turns into FIFO and a swap at
 *    every change of model as soon as the host falls behind by that much).
 * 2. Among the jobs allowed to go, the highest priority (lowest number).
 * 3. Among equals, a job whose model is already loaded (no swap), then the oldest. So after a swap, the
 *    new model's backlog follows it until an older job's budget runs out.
 */
export function pickNext(candidates: readonly GpuCandidate[], maxWaitMs: number): GpuCandidate | undefined {
  const byAge = [...candidates].sort((a, b) => a.since - b.since);
  const firstProtected = byAge.findIndex((c) => c.passedMs >= maxWaitMs);
  const allowed = firstProtected < 0 ? byAge : byAge.filter((c) => c.since <= byAge[firstProtected]!.since);
  return allowed.sort((a, b) => a.priority - b.priority || Number(b.loaded) - Number(a.loaded) || a.since - b.since)[0];
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
  /** Submission time of the job waiting for the GPU with this model, if one is. */
  waitingSince?: number;
}

/**
 * Which idle model to unload first: one no job is waiting for (least recently used first); failing that,
 * the one whose waiting job is the youngest, as pickNext tends to serve it last. Unloading a model that a
 * waiting job is about to use would cost its reload right after. Models running a job are never
 * candidates (the caller filters them out).
 */
export function chooseEvictionVictim<T extends EvictionCandidate>(idle: readonly T[]): T | undefined {
  const rank = (c: T): [number, number] => (c.waitingSince === undefined ? [0, c.lastUsedAt] : [1, -c.waitingSince]);
  return idle.reduce<T | undefined>((a, b) => {
    if (!a) return b;
    const [ra, rb] = [rank(a), rank(b)];
    return rb[0] < ra[0] || (rb[0] === ra[0] && rb[1] < ra[1]) ? b : a;
  }, undefined);
}
