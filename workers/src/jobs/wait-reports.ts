import type { MemoryWait, Phase } from "@videosdgx/shared";

/** Memory figures move materially when one shifts by this share of what the load needs. */
const MATERIAL_SHARE = 0.05;
/** A wait that does not change is still reported this often, so its elapsed time stays visible. */
const REFRESH_MS = 30_000;

/** The kind of wait a message describes, its GB figures left out (those are compared with a tolerance). */
const kind = (message: string) => message.replace(/\d+(\.\d+)? GB/g, "");

function memoryMoved(last: MemoryWait | undefined, next: MemoryWait | undefined): boolean {
  if (!last || !next) return last !== next;
  const tolerance = next.needed_bytes * MATERIAL_SHARE;
  return (
    last.needed_bytes !== next.needed_bytes ||
    last.budget_bytes !== next.budget_bytes ||
    Math.abs(last.available_bytes - next.available_bytes) >= tolerance ||
    Math.abs(last.held_by_others_bytes - next.held_by_others_bytes) >= tolerance ||
    kind(last.message) !== kind(next.message)
  );
}

/**
 * Decides which wake-ups of a waiting job are worth a progress update. Every update is an entry in
 * BullMQ's trimmed events stream, which webhooks and SSE read: a wait woken every few seconds must not
 * push out the events that matter.
 */
export class WaitReports {
  private last: { phase: Phase; memory: MemoryWait | undefined; at: number } | undefined;

  /** True when this wait state should be reported (and records it as the last one reported). */
  changed(phase: Phase, memory: MemoryWait | undefined, now: number): boolean {
    const last = this.last;
    if (last && last.phase === phase && !memoryMoved(last.memory, memory) && now - last.at < REFRESH_MS) return false;
    this.last = { phase, memory, at: now };
    return true;
  }
}
