import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { CHECKPOINTS_DIR } from "@videosdgx/shared";

/** Bytes a folder takes on disk (allocated blocks, so sparse files count for what they hold). */
export async function diskUsage(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  let total = 0;
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) total += await diskUsage(full);
    else total += ((await stat(full).catch(() => undefined))?.blocks ?? 0) * 512;
  }
  return total;
}

export const exists = (p: string) => stat(p).then(() => true, () => false);

export const checkpointDir = (modelsDir: string, name: string) => path.join(modelsDir, CHECKPOINTS_DIR, name);

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
