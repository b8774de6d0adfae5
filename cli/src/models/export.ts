import { spawn } from "node:child_process";
import { mkdir, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { z } from "zod";
import { CliExitCode, GraphQualitySchema, KNOWN_MODELS, type Config, type GraphQuality } from "@videosdgx/shared";
import { CliError, usageError } from "../cli-error.js";
import { checkpointDir } from "./folder.js";

/** The families the Python exporter can write (exporter/src/videosdgx_export: `--family`). */
const EXPORTABLE_FAMILIES = ["wan", "ltx2", "magi"];
/** Families whose export is float32 only so far (magi: MAGI keeps parts of the DiT in fp32; no mixed graph yet). */
const FP32_ONLY_FAMILIES = ["magi"];

export interface ExportOptions {
  /** The diffusers checkpoint; default the one `models pull` left in MODELS_DIR/.checkpoints/<name>. */
  from?: string;
  /**
   * Default fp16, or fp32 with --quantize (the quantized graphs keep float32 activations) or for magi. bf16
   * goes to the exporter, which refuses it with the reason (one place says why).
   */
  dtype?: "fp32" | "fp16" | "bf16";
  /** The transformer's weights to int8 (dynamic quantization) or int4 (MatMulNBits). */
  quantize?: "int8" | "int4";
  /** Request limits written into the manifest: the real model's, or a small replica's. */
  limits: "model" | "replica";
}

export interface ExportResult {
  model: string;
  dir: string;
  /** Per graph, its worst parity case against PyTorch: what quantization (or fp16) gave up. */
  quality: GraphQuality[];
  /** The exporter's own JSON report: manifest (parity per case, measured footprint) and source record. */
  report: unknown;
}

const ExporterOutputSchema = z.object({ quality: z.array(GraphQualitySchema) });

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
  const dtype = opts.dtype ?? (opts.quantize || FP32_ONLY_FAMILIES.includes(family) ? "fp32" : "fp16");
  if (opts.quantize && dtype !== "fp32") throw usageError(`--quantize ${opts.quantize} needs --dtype fp32 (the quantized graphs keep float32 activations), not ${dtype}`);
  const dir = path.join(config.MODELS_DIR, name);
  await mkdir(config.MODELS_DIR, { recursive: true });
  const args = [runScript(), "export", "--family", family, "--from", from, "--out", dir, "--dtype", dtype,
    ...(opts.quantize ? ["--quantize", opts.quantize] : []), "--limits", opts.limits === "model" ? name : "replica", "--json"];
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
  const report = JSON.parse(stdout) as unknown;
  return { model: name, dir, quality: ExporterOutputSchema.parse(report).quality, report };
}
