import { magiContextChunks, type MagiRuntimeConfig } from "@videosdgx/shared";

type ScheduleConfig = Pick<MagiRuntimeConfig, "window_size" | "noise2clean_kvrange" | "clean_chunk_kvrange" | "shift">;

/**
 * MAGI-1's time grid (init_t, "sd3"): linspace(0, 1, N + 1), squared, then the shift
 * t / shift / (1 + (1 / shift - 1) t). MAGI's time runs from 0 (noise) to 1 (clean).
 */
export function magiTimes(steps: number, shift: number): Float64Array {
  const inv = 1 / shift;
  return Float64Array.from({ length: steps + 1 }, (_, i) => {
    const t = (i / steps) ** 2;
    return (inv * t) / (1 + (inv - 1) * t);
  });
}

/** One chunk in one forward: where it is in the window and which of its steps this is. */
export interface ChunkStep {
  chunk: number;
  /** Its step (0 .. steps - 1): it moves from times[step] to times[step + 1]. */
  step: number;
  /** Chunk range [start, end) it attends to, as indices into the forward's chunks (context first). */
  kv: [number, number];
}

/** One transformer evaluation of the window: the clean context chunks before it, then the chunks it moves. */
export interface ForwardPlan {
  /** Clean chunks shown as context (absolute indices, oldest first); each attends to itself only. */
  context: number[];
  chunks: ChunkStep[];
  /** The chunk that is clean after this forward's update, if one is. */
  finishes?: number;
}

/** Refuses step counts the window cannot split evenly (MAGI asserts the same). */
export function checkMagiSteps(steps: number, config: ScheduleConfig): void {
  if (steps % config.window_size !== 0) {
    throw new RangeError(`steps must be a multiple of the window size ${config.window_size} (got ${steps})`);
  }
}

/**
 * The forwards of a video of `chunkCount` chunks, in order (MAGI's SampleTransport.walk): the window
 * moves one chunk every steps / window_size forwards; at stage s it holds chunks max(0, s - W + 1) ..
 * min(count, s + 1) - 1, the older ones further along (chunk c is at level s - c), and each chunk
 * attends back by noise2clean_kvrange of its level. Lazy, so a video of any length costs no memory here.
 */
export function* magiForwards(chunkCount: number, steps: number, config: ScheduleConfig): Generator<ForwardPlan> {
  checkMagiSteps(steps, config);
  const window = config.window_size;
  const perStage = steps / window;
  const perRange = steps / config.noise2clean_kvrange.length;
  const contextCount = magiContextChunks(config);
  for (let stage = 0; stage < chunkCount + window - 1; stage++) {
    const first = Math.max(0, stage - window + 1);
    const end = Math.min(chunkCount, stage + 1);
    const context = Array.from({ length: Math.min(contextCount, first) }, (_, i) => first - Math.min(contextCount, first) + i);
    for (let index = 0; index < perStage; index++) {
      const chunks: ChunkStep[] = [];
      for (let chunk = first; chunk < end; chunk++) {
        const step = (stage - chunk) * perStage + index;
        const range = config.noise2clean_kvrange[Math.floor(step / perRange)]!;
        const at = context.length + chunk - first;
        chunks.push({ chunk, step, kv: [Math.max(0, at + 1 - range), at + 1] });
      }
      const last = index === perStage - 1 && stage - first === window - 1;
      yield { context, chunks, ...(last ? { finishes: first } : {}) };
    }
  }
}

/** How many forwards a video of `chunkCount` chunks takes. */
export const magiForwardCount = (chunkCount: number, steps: number, window: number): number => (steps / window) * (chunkCount + window - 1);
