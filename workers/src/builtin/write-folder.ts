import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";

const VERSION_FILE = ".generator-version";

/**
 * Writes a generated model folder. It is built in a sibling folder and renamed into place, so an
 * interrupted run never leaves a half model where a worker would load it. `version` marks the generator.
 */
export async function writeGeneratedFolder(outDir: string, files: Record<string, string | Uint8Array>, version: string): Promise<void> {
  const staging = `${outDir}.staging-${process.pid}`;
  const old = `${outDir}.old-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  for (const [rel, body] of Object.entries({ ...files, [VERSION_FILE]: version })) {
    const file = path.join(staging, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, body);
  }
  await rename(outDir, old).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
  await rename(staging, outDir);
  await rm(old, { recursive: true, force: true });
}

/** True when the folder was written by this version of its generator. */
export async function isGeneratedFolderCurrent(outDir: string, version: string): Promise<boolean> {
  const found = await readFile(path.join(outDir, VERSION_FILE), "utf8").catch(() => "");
  return found === version;
}
