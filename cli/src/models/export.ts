import { spawn } from "node:child_process";
import { mkdir, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { CliExitCode, KNOWN_MODELS, type Config } from "@videosdgx/shared";
import { CliError, usageError } from "../cli-error.js";
import { checkpointDir } from "./folder.js";

/** The families the Python exporter can write (exporter/src/videosdgx_export: `--family`). */
const EXPORTABLE_FAMILIES = ["wan"];

export interface ExportOptions {
  /** The diffusers checkpoint; default the one `models pull` left in MODELS_DIR/.checkpoints/<name>. */
  from?: string;
  dtype: "fp32" | "fp16";
  /** Request limits written into the manifest: the real model's, or a small replica's. */
  limits: "model" | "replica";
}

export interface ExportResult {
  model: string;
  dir: string;
  /** The exporter's own JSON report: files, parity per graph, measured footprint. */
  report: unknown;
}

const runScript = () => path.join(path.dirname(createRequire(import.meta.url).resolve("@videosdgx/exporter/package.json")), "scripts/run.sh");

/**
 * `models export <name>`: the exporter (Python, in its own pinned venv, made on first use) turns a
 * diffusers checkpoint into the model's folder, checks every graph against the PyTorch module and moves
 * the folder into place only when they agree. Its progress goes to stderr as it runs.
 */
export async function exportModel(config: Config, name: string, opts: ExportOptions): Promise<ExportResult> {
  const family = KNOWN_MODELS.get(name)?.family;
  if (!family) throw usageError(`unknown model "${name}": export makes the folder of a known model (${[...KNOWN_MODELS.keys()].join(", ")})`);
  if (!EXPORTABLE_FAMILIES.includes(family)) {
    throw new CliError("export_unsupported", `the exporter has no ${family} export yet (it exports: ${EXPORTABLE_FAMILIES.join(", ")})`, CliExitCode.usage);
  }
  const from = path.resolve(opts.from ?? checkpointDir(config.MODELS_DIR, name));
  if (!(await stat(from).then((s) => s.isDirectory(), () => false))) {
    throw usageError(`no checkpoint at ${from}: run \`npm run models -- pull ${name}\` first, or give --from <diffusers checkpoint dir>`);
  }
  const dir = path.join(config.MODELS_DIR, name);
  await mkdir(config.MODELS_DIR, { recursive: true });
  const args = [runScript(), "export", "--family", family, "--from", from, "--out", dir, "--dtype", opts.dtype, "--limits", opts.limits === "model" ? name : "replica", "--json"];
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
    const child = spawn("bash", args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.once("error", reject);
    child.once("exit", (c) => resolve({ code: c, stdout: out }));
  });
  if (code !== 0) {
    // The exporter's exits: 2 bad checkpoint or arguments, 3 parity refused; its message is on stderr above.
    throw new CliError(code === 3 ? "parity_failed" : "export_failed", `the exporter refused ${from} (exit ${code}); its reason is above; nothing was moved into ${dir}`, code === 2 ? CliExitCode.usage : CliExitCode.failed);
  }
  return { model: name, dir, report: JSON.parse(stdout) as unknown };
}
