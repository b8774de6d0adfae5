import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { inspectModel } from "@videosdgx/shared";

const VERSION_FILE = ".generator-version";
/** sha256 of every file the generator wrote, in `sha256sum` format (`sha256sum -c checksums.sha256` checks it too). */
const CHECKSUMS_FILE = "checksums.sha256";

const sha256 = (body: string | Uint8Array) => createHash("sha256").update(body).digest("hex");

/**
 * Writes a generated model folder with its generator's `version` and the checksums of every file. It is
 * built in a sibling folder and renamed into place, so an interrupted run never leaves a half model
 * where a worker would load it.
 */
export async function writeGeneratedFolder(outDir: string, files: Record<string, string | Uint8Array>, version: string): Promise<void> {
  const written = { ...files, [VERSION_FILE]: version };
  const checksums = Object.entries(written).map(([rel, body]) => `${sha256(body)}  ${rel}\n`).join("");
  const staging = `${outDir}.staging-${process.pid}`;
  const old = `${outDir}.old-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  for (const [rel, body] of Object.entries({ ...written, [CHECKSUMS_FILE]: checksums })) {
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

/** Whether every file the generator listed still has its bytes: generated models are small, so this is cheap. */
async function checksumsMatch(outDir: string): Promise<boolean> {
  const listing = await readFile(path.join(outDir, CHECKSUMS_FILE), "utf8").catch(() => "");
  const lines = listing.split("\n").filter(Boolean);
  if (lines.length === 0) return false;
  for (const line of lines) {
    // sha256sum's text format: 64 hex digits, two spaces, the path.
    const [hash, rel] = [line.slice(0, 64), line.slice(66)];
    const body = rel ? await readFile(path.join(outDir, rel)).catch(() => undefined) : undefined;
    if (!body || sha256(body) !== hash) return false;
  }
  return true;
}

/**
 * True when the folder holds a sound model written by this version of its generator: it passes
 * inspection as any model must (its graphs' structure included), and every byte is as written (a flipped
 * weight leaves the structure sound and only a checksum sees it).
 */
export async function isGeneratedFolderCurrent(outDir: string, version: string): Promise<boolean> {
  const found = await readFile(path.join(outDir, VERSION_FILE), "utf8").catch(() => "");
  if (found !== version) return false;
  const state = await inspectModel(path.dirname(outDir), path.basename(outDir));
  return state.installed && (await checksumsMatch(outDir));
}
