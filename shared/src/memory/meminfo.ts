import { readFile } from "node:fs/promises";
import { ConfigError } from "../errors.js";

export interface MemInfo {
  totalBytes: number;
  /** The kernel's estimate of memory available to new allocations without swapping. */
  availableBytes: number;
}

/** /proc/meminfo, which on a DGX Spark's unified memory also bounds what the GPU can allocate. */
export async function readMemInfo(file = "/proc/meminfo"): Promise<MemInfo> {
  const text = await readFile(file, "utf8");
  const kib = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    if (!m?.[1]) throw new Error(`${file} has no ${field} line`);
    return Number(m[1]) * 1024;
  };
  return { totalBytes: kib("MemTotal"), availableBytes: kib("MemAvailable") };
}

/** The host's budget: MEMORY_BUDGET_BYTES, or MemTotal minus MEMORY_RESERVE_BYTES. */
export function memoryBudget(configured: number | undefined, reserve: number, info: MemInfo): number {
  if (configured !== undefined) return configured;
  const budget = info.totalBytes - reserve;
  if (budget <= 0) {
    throw new ConfigError(`MEMORY_RESERVE_BYTES (${reserve}) leaves no budget out of MemTotal ${info.totalBytes}; set MEMORY_BUDGET_BYTES`);
  }
  return budget;
}
