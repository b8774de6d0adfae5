import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, mkdir, open, readdir, rm, stat, statfs } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { EnvironmentProblem, OutputStore } from "@videosdgx/shared";

const run = promisify(execFile);

/** The encoders mp4-encoder.ts asks ffmpeg for (`-c:v libx264`). */
export const REQUIRED_ENCODERS = ["libx264"] as const;
const PROBE_BYTES = 4096;
const FFMPEG_TIMEOUT_MS = 10_000;

export interface EnvironmentSettings {
  outputsDir: string;
  /** Free bytes OUTPUTS_DIR must have for a job to be taken. */
  minFreeBytes: number;
  /** FFMPEG_PATH; unset: the first `ffmpeg` on `searchPath`. */
  ffmpegPath: string | undefined;
  /** The PATH to search, read at each check so a binary installed meanwhile is found. */
  searchPath: () => string;
  /** Where finished files go (OUTPUT_STORE): asked whether it can store one now. */
  store: Pick<OutputStore, "check">;
}

export type EnvironmentCheck = { ok: true; ffmpeg: string } | { ok: false; problem: EnvironmentProblem };

const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;

async function isExecutable(file: string): Promise<boolean> {
  const info = await stat(file).catch(() => undefined);
  return !!info?.isFile() && (await access(file, constants.X_OK).then(() => true, () => false));
}

/** The ffmpeg binary a job would run, or undefined; FFMPEG_PATH wins when set (and is never second-guessed). */
export async function findFfmpeg(s: Pick<EnvironmentSettings, "ffmpegPath" | "searchPath">): Promise<string | undefined> {
  if (s.ffmpegPath) return (await isExecutable(s.ffmpegPath)) ? s.ffmpegPath : undefined;
  for (const dir of s.searchPath().split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, "ffmpeg");
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** `ffmpeg -encoders` lists one per line: flags (V for video), name, description. */
function listsEncoder(listing: string, name: string): boolean {
  return new RegExp(`^\\s*V\\S*\\s+${name}\\s`, "m").test(listing);
}

/** Encoder listings by binary identity: a binary replaced in place (new inode or mtime) is asked again. */
const encoderListings = new Map<string, Promise<string>>();

async function encodersOf(ffmpeg: string): Promise<string> {
  const info = await stat(ffmpeg);
  const id = `${ffmpeg}:${info.ino}:${info.mtimeMs}:${info.size}`;
  let listing = encoderListings.get(id);
  if (!listing) {
    listing = run(ffmpeg, ["-hide_banner", "-encoders"], { timeout: FFMPEG_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }).then((r) => r.stdout);
    encoderListings.set(id, listing);
    listing.catch(() => encoderListings.delete(id));
  }
  return listing;
}

async function checkFfmpeg(s: EnvironmentSettings): Promise<EnvironmentCheck> {
  const ffmpeg = await findFfmpeg(s);
  if (!ffmpeg) {
    const where = s.ffmpegPath ? `FFMPEG_PATH=${s.ffmpegPath} is not an executable file` : `no ffmpeg on PATH (${s.searchPath()})`;
    return { ok: false, problem: { code: "ffmpeg_missing", message: `ffmpeg is missing: ${where}; install it (apt-get install -y ffmpeg) or set FFMPEG_PATH` } };
  }
  let listing: string;
  try {
    listing = await encodersOf(ffmpeg);
  } catch (err) {
    return { ok: false, problem: { code: "ffmpeg_missing", message: `${ffmpeg} does not run: ${(err as Error).message.split("\n")[0]}` } };
  }
  const missing = REQUIRED_ENCODERS.filter((e) => !listsEncoder(listing, e));
  if (missing.length > 0) {
    return {
      ok: false,
      problem: { code: "ffmpeg_encoder_missing", message: `${ffmpeg} has no ${missing.join(", ")} encoder; install an ffmpeg built with it (Debian's ffmpeg package has it)` },
    };
  }
  return { ok: true, ffmpeg };
}

const FULL = new Set(["ENOSPC", "EDQUOT"]);

function writeProblem(dir: string, err: NodeJS.ErrnoException): EnvironmentProblem {
  if (FULL.has(err.code ?? "")) return { code: "disk_full", message: `the disk holding OUTPUTS_DIR ${dir} is full (${err.code}); free some space` };
  return { code: "outputs_not_writable", message: `OUTPUTS_DIR ${dir} cannot be written: ${err.message}; make it a writable folder` };
}

const PROBE_PREFIX = ".write-probe-";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Probes left by workers killed mid-probe, removed once per process (before this fix a probe could stay). */
let sweptDir: string | undefined;
async function removeDeadProbes(dir: string): Promise<void> {
  if (sweptDir === dir) return;
  sweptDir = dir;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(name.slice(PROBE_PREFIX.length));
    if (name.startsWith(PROBE_PREFIX) && Number.isInteger(pid) && !isAlive(pid)) await rm(path.join(dir, name), { force: true }).catch(() => undefined);
  }
}

/**
 * A real write under OUTPUTS_DIR (write and fsync to a file removed right after it is opened, so that a
 * worker killed mid-probe leaves nothing beside the videos), then its free space: what encoding needs.
 */
async function checkOutputs(s: EnvironmentSettings): Promise<EnvironmentProblem | undefined> {
  const dir = s.outputsDir;
  const probe = path.join(dir, `${PROBE_PREFIX}${process.pid}`);
  try {
    await mkdir(dir, { recursive: true });
    await removeDeadProbes(dir);
    const handle = await open(probe, "w");
    try {
      await rm(probe, { force: true });
      await handle.write(Buffer.alloc(PROBE_BYTES));
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    return writeProblem(dir, err as NodeJS.ErrnoException);
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  if (free < s.minFreeBytes) {
    return { code: "disk_full", message: `OUTPUTS_DIR ${dir} has ${gb(free)} free, less than the ${gb(s.minFreeBytes)} a job needs (OUTPUTS_MIN_FREE_BYTES); free some space` };
  }
  return undefined;
}

/** Whether this host can run a job to the end: ffmpeg with its encoders, a writable OUTPUTS_DIR with room, and the output store. */
export async function checkEnvironment(s: EnvironmentSettings): Promise<EnvironmentCheck> {
  const [ffmpeg, outputs, store] = await Promise.all([checkFfmpeg(s), checkOutputs(s), s.store.check()]);
  if (!ffmpeg.ok) return ffmpeg;
  const problem = outputs ?? store;
  if (problem) return { ok: false, problem };
  return ffmpeg;
}
