import { readdir } from "node:fs/promises";
import path from "node:path";
import type { OutputStore } from "@videosdgx/shared";
import { PART_SUFFIX } from "../video/mp4-encoder.js";

const TYPES: Record<string, string> = { ".mp4": "video/mp4", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp" };

/**
 * Hands every finished file of a job (`<job id>.mp4`, its poster, its previews: any name starting with
 * the job id and a dot that is not a temporary) to the output store, the video last, so a stored video
 * means its companions are stored too.
 */
export async function storeOutputs(store: OutputStore, dir: string, jobId: string): Promise<void> {
  if (store.kind === "fs") return;
  const names = (await readdir(dir)).filter((n) => n.startsWith(`${jobId}.`) && !n.endsWith(PART_SUFFIX));
  const video = `${jobId}.mp4`;
  for (const name of [...names.filter((n) => n !== video).sort(), ...names.filter((n) => n === video)]) {
    await store.put(name, path.join(dir, name), TYPES[path.extname(name).toLowerCase()] ?? "application/octet-stream");
  }
}
