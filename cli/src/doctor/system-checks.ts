import { execFile } from "node:child_process";
import { readdir, readFile, stat, statfs } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { Config } from "@videosdgx/shared";
import { formatBytes } from "../output.js";
import { fail, ok, warn, type DoctorCheck } from "./check.js";

const run = promisify(execFile);
const firstLine = (err: unknown) => ((err as { stderr?: string }).stderr || (err as Error).message).trim().split("\n")[0];

const MIN_NODE = [20, 11] as const;

export function checkNode(): DoctorCheck {
  const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
  const good = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  return good
    ? ok("node", `Node.js ${process.versions.node}`)
    : fail("node", `Node.js ${process.versions.node} is older than ${MIN_NODE.join(".")}`, "install Node.js 20.11 or newer");
}

/** The encoders a video needs: libx264 for every model, AAC for the sound of models that make it (LTX-2). */
const ENCODERS = [
  { name: "libx264", kind: "V", blocks: true },
  { name: "aac", kind: "A", blocks: false },
] as const;

export async function checkFfmpeg(config: Config): Promise<DoctorCheck> {
  const { findFfmpeg } = await import("@videosdgx/workers/runtime");
  const ffmpeg = await findFfmpeg({ ffmpegPath: config.FFMPEG_PATH, searchPath: () => process.env.PATH ?? "" });
  if (!ffmpeg) {
    return fail("ffmpeg", config.FFMPEG_PATH ? `FFMPEG_PATH=${config.FFMPEG_PATH} is not an executable file` : "no ffmpeg on PATH", "apt-get install -y ffmpeg, or set FFMPEG_PATH");
  }
  let listing: string;
  try {
    listing = (await run(ffmpeg, ["-hide_banner", "-encoders"], { timeout: 10_000, maxBuffer: 4 << 20 })).stdout;
  } catch (err) {
    return fail("ffmpeg", `${ffmpeg} does not run: ${firstLine(err)}`, "reinstall ffmpeg (apt-get install -y ffmpeg)");
  }
  const missing = ENCODERS.filter((e) => !new RegExp(`^\\s*${e.kind}\\S*\\s+${e.name}\\s`, "m").test(listing));
  if (missing.some((e) => e.blocks)) {
    return fail("ffmpeg", `${ffmpeg} has no ${missing.map((e) => e.name).join(", ")} encoder`, "install an ffmpeg built with libx264 and AAC (Debian's ffmpeg package has both)");
  }
  if (missing.length > 0) return warn("ffmpeg", `${ffmpeg} has libx264 but no AAC encoder: videos with sound (LTX-2) cannot be muxed`, "install Debian's ffmpeg package");
  return ok("ffmpeg", `${ffmpeg} with libx264 and AAC`);
}

export async function checkGpu(): Promise<DoctorCheck> {
  try {
    const { stdout } = await run("nvidia-smi", ["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"], { timeout: 15_000 });
    return ok("gpu", `nvidia-smi: ${stdout.trim().replace(/\n/g, "; ")}`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      return warn("gpu", "nvidia-smi is not installed: no NVIDIA GPU is visible, models run on the CPU (only tiny is practical there)", "on a DGX Spark install the NVIDIA driver (DGX OS has it); see README, GPU on DGX Spark");
    }
    return warn("gpu", `nvidia-smi failed: ${firstLine(err)}`, "check the NVIDIA driver (nvidia-smi must list the GPU)");
  }
}

async function meminfo(): Promise<Map<string, number>> {
  const text = await readFile("/proc/meminfo", "utf8");
  return new Map(text.split("\n").flatMap((l) => {
    const m = /^(\w+):\s+(\d+)\s*kB/.exec(l);
    return m ? [[m[1]!, Number(m[2]) * 1024] as [string, number]] : [];
  }));
}

/** The processes holding the most resident memory, from /proc (what nvidia-smi cannot say on GB10's shared memory). */
export async function largestProcesses(count: number): Promise<{ pid: number; name: string; rss_bytes: number }[]> {
  const pids = (await readdir("/proc")).filter((d) => /^\d+$/.test(d));
  const rows: { pid: number; name: string; rss_bytes: number }[] = [];
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    const name = /^Name:\s+(.*)$/m.exec(status)?.[1];
    const rss = /^VmRSS:\s+(\d+)\s*kB/m.exec(status)?.[1];
    if (name && rss) rows.push({ pid: Number(pid), name, rss_bytes: Number(rss) * 1024 });
  }
  return rows.sort((a, b) => b.rss_bytes - a.rss_bytes).slice(0, count);
}

/** `needBytes`: the load peak of the largest installed model, which has to fit at once. */
export async function checkMemory(needBytes: number): Promise<DoctorCheck & { largest_processes: Awaited<ReturnType<typeof largestProcesses>> }> {
  const info = await meminfo();
  const available = info.get("MemAvailable") ?? 0;
  const total = info.get("MemTotal") ?? 0;
  const top = await largestProcesses(5);
  const holders = top.map((p) => `${p.name} (pid ${p.pid}) ${formatBytes(p.rss_bytes)}`).join(", ");
  const detail = `MemAvailable ${formatBytes(available)} of ${formatBytes(total)}; largest processes: ${holders}`;
  const base = available < needBytes
    ? warn("memory", `${detail}; the largest installed model needs ${formatBytes(needBytes)} while it loads`, "stop what holds the memory (the largest processes above) or use a smaller model")
    : ok("memory", detail);
  return { ...base, largest_processes: top };
}

/** statfs of the folder, or of its nearest existing parent when it is not made yet. */
async function freeBytes(dir: string): Promise<{ at: string; free: number }> {
  let at = path.resolve(dir);
  while (!(await stat(at).then(() => true, () => false)) && path.dirname(at) !== at) at = path.dirname(at);
  const fs = await statfs(at);
  return { at, free: fs.bavail * fs.bsize };
}

export async function checkDisk(config: Config): Promise<DoctorCheck[]> {
  const models = await freeBytes(config.MODELS_DIR);
  const outputs = await freeBytes(config.OUTPUTS_DIR);
  const outputsCheck = outputs.free < config.OUTPUTS_MIN_FREE_BYTES
    ? fail("disk:outputs", `${formatBytes(outputs.free)} free under OUTPUTS_DIR ${config.OUTPUTS_DIR} (at ${outputs.at}), less than OUTPUTS_MIN_FREE_BYTES ${formatBytes(config.OUTPUTS_MIN_FREE_BYTES)}`, "free disk space or point OUTPUTS_DIR at a larger disk")
    : ok("disk:outputs", `${formatBytes(outputs.free)} free under OUTPUTS_DIR ${config.OUTPUTS_DIR}`);
  return [ok("disk:models", `${formatBytes(models.free)} free under MODELS_DIR ${config.MODELS_DIR} (a real model's checkpoint plus its export takes 60-200 GB)`), outputsCheck];
}
