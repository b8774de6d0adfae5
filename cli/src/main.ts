#!/usr/bin/env node
import { Command, CommanderError, Option } from "commander";
import { CliExitCode, type Config } from "@videosdgx/shared";
import { ApiClient } from "./api/api-client.js";
import { cliConfig, type GlobalOptions } from "./cli-config.js";
import { usageError } from "./cli-error.js";
import { runDoctor } from "./doctor/doctor.js";
import { registerJobCommands } from "./jobs/commands.js";
import { listModels as listApiModels, modelRow } from "./jobs/jobs.js";
import { registerKeyCommands } from "./keys/commands.js";
import { exportModel } from "./models/export.js";
import { listModels, type ModelRow } from "./models/list.js";
import { pullModel } from "./models/pull.js";
import { removeModel } from "./models/rm.js";
import { verifyFailure, verifyModel } from "./models/verify.js";
import { formatBytes, print, printJson, runCommand } from "./output.js";
import { humanProgress, jsonProgress } from "./progress.js";

/** The settings, with --url and --key (wherever they were given on the command line) in their variables' place. */
const config = (): Config => cliConfig(program.opts<GlobalOptions>());

const jsonOption = () => new Option("--json", "print JSON (one document, or JSON lines for progress) for scripts");

function describeSource(r: ModelRow): string {
  if (r.source.kind === "hub") return r.source.repos.map((p) => `${p.repo}@${p.revision} (${p.commit.slice(0, 12)})`).join(" + ");
  if (r.source.kind === "exported") return `exported${r.source.from ? ` from ${r.source.from}` : ""}`;
  if (r.source.kind === "generated") return "generated";
  return r.installed ? "placed by hand (no source record)" : "-";
}

const program = new Command("videosdgx")
  .description("VideosDGX command line: make videos and follow jobs over the HTTP API; model folders, API keys and the doctor on this machine")
  .option("--url <url>", "the API's base URL (env VIDEOSDGX_URL; default this machine's, http://127.0.0.1:8000)")
  .option("--key <key>", "API key sent as Authorization: Bearer (env VIDEOSDGX_API_KEY)")
  .showHelpAfterError()
  .exitOverride();

registerJobCommands(program, config);

// Bare `models` is the API's view (what can be asked for); its subcommands work on the folders under MODELS_DIR.
const models = program
  .command("models")
  // Commander gives `--json` after a subcommand to this parent, which declares it too: hand it on.
  .hook("preAction", (parent, action) => {
    if (action !== parent && parent.opts<{ json?: boolean }>().json) action.setOptionValue("json", true);
  })
  .description("with no subcommand: the API's models (installed or not and why, loaded, waiting jobs); subcommands: the model folders under MODELS_DIR")
  .addOption(jsonOption())
  .action((opts: { json?: boolean }) =>
    runCommand(!!opts.json, async () => {
      const list = await listApiModels(ApiClient.of(config()));
      if (opts.json) return printJson({ models: list });
      for (const m of list) for (const line of modelRow(m)) print(line);
    }),
  );

models
  .command("list")
  .description("every known and installed model: family, installed or not and why, size on disk, source")
  .addOption(jsonOption())
  .action((opts: { json?: boolean }) =>
    runCommand(!!opts.json, async () => {
      const rows = await listModels(config().MODELS_DIR);
      if (opts.json) return printJson({ models: rows });
      for (const r of rows) {
        print(`${r.name.padEnd(8)} ${(r.family ?? "-").padEnd(8)} ${r.installed ? "installed" : "not installed"}  ${formatBytes(r.size_bytes)}  ${describeSource(r)}`);
        if (r.reason) print(`         ${r.reason}`);
        if (r.checkpoint) print(`         checkpoint: ${r.checkpoint.dir} (${formatBytes(r.checkpoint.size_bytes)})`);
      }
    }),
  );

models
  .command("pull <name>")
  .description("download what the model needs from the Hugging Face Hub (resumable, sha256-checked)")
  .option("--revision <rev>", "branch, tag or commit of the model's repository (default: the catalog's)")
  .addOption(jsonOption())
  .action((name: string, opts: { revision?: string; json?: boolean }) =>
    runCommand(!!opts.json, async () => {
      const progress = opts.json ? jsonProgress() : humanProgress();
      const result = await pullModel(config(), name, opts.revision, progress);
      const message = `${result.files} files (${formatBytes(result.bytes)}) of ${result.repos.map((r) => `${r.repo}@${r.commit.slice(0, 12)}`).join(" + ")} in ${result.dir}; next: models export ${name}`;
      progress.done({ ...result, message });
    }),
  );

models
  .command("export <name>")
  .description("turn the model's diffusers checkpoint into its ONNX folder, parity-checked against PyTorch (Python exporter)")
  .option("--from <dir>", "the diffusers checkpoint (default: what models pull left in MODELS_DIR/.checkpoints/<name>)")
  .addOption(new Option("--dtype <dtype>", "text encoder and transformer dtype (default fp16; fp32 with --quantize and for magi; bf16 is refused, with why)").choices(["fp32", "fp16", "bf16"]))
  .addOption(new Option("--quantize <bits>", "quantize the transformer's weights: int8 (dynamic) or int4 (MatMulNBits, blocks of 32)").choices(["int8", "int4"]))
  .addOption(new Option("--limits <limits>", "request limits in the manifest: the real model's, or a small replica's (tests)").choices(["model", "replica"]).default("model"))
  .addOption(jsonOption())
  .action((name: string, opts: { from?: string; dtype?: "fp32" | "fp16" | "bf16"; quantize?: "int8" | "int4"; limits: "model" | "replica"; json?: boolean }) =>
    runCommand(!!opts.json, async () => {
      const result = await exportModel(config(), name, opts);
      if (opts.json) return printJson(result);
      for (const q of result.quality) {
        const cosine = q.min_cosine === null ? "" : `, cosine ${q.cosine.toFixed(6)} (at least ${q.min_cosine})`;
        print(`${q.graph.padEnd(12)} against PyTorch: deviation ${q.deviation.toPrecision(3)} (tolerance ${q.tolerance}), relative L2 ${q.rel_l2.toPrecision(3)}${cosine}`);
      }
      print(`exported ${name} into ${result.dir}; next: models verify ${name} --run`);
    }),
  );

models
  .command("verify <name>")
  .description("check a model folder: files, recorded hashes, graphs against the family contract, external data, manifest")
  .option("--run", "also load it and make a video of the smallest valid size in two steps (or the fewest valid) through the worker's code")
  .addOption(jsonOption())
  .action((name: string, opts: { run?: boolean; json?: boolean }) =>
    runCommand(!!opts.json, async () => {
      const report = await verifyModel(config(), name, { run: !!opts.run });
      if (opts.json) printJson(report);
      else for (const c of report.checks) print(`${c.ok ? "ok  " : "FAIL"}  ${c.check.padEnd(9)} ${c.detail}`);
      if (!opts.json && report.run) print(`      video     ${JSON.stringify(report.run.video)}`);
      if (!report.ok) {
        if (opts.json) return CliExitCode.failed;
        throw verifyFailure(report);
      }
    }),
  );

models
  .command("rm <name>")
  .description("remove a model folder; refused while a live worker serves the model")
  .option("--checkpoint", "remove the pulled checkpoint (MODELS_DIR/.checkpoints/<name>) instead")
  .option("--force", "remove even when Redis is unreachable and workers cannot be checked")
  .addOption(jsonOption())
  .action((name: string, opts: { checkpoint?: boolean; force?: boolean; json?: boolean }) =>
    runCommand(!!opts.json, async () => {
      const result = await removeModel(config(), name, { checkpoint: !!opts.checkpoint, force: !!opts.force });
      if (opts.json) return printJson(result);
      if (result.note) process.stderr.write(`${result.note}\n`);
      print(`removed ${result.removed}`);
    }),
  );

program
  .command("doctor")
  .description("what stands between this machine and a first video; exits 1 when something blocks it")
  .addOption(jsonOption())
  .action((opts: { json?: boolean }) =>
    runCommand(!!opts.json, async () => {
      const checks = await runDoctor(config());
      const blocked = checks.some((c) => c.status === "fail");
      if (opts.json) printJson({ ok: !blocked, checks });
      else {
        for (const c of checks) {
          print(`${c.status.toUpperCase().padEnd(4)}  ${c.check.padEnd(18)} ${c.detail}`);
          if (c.fix) print(`${" ".repeat(24)}-> ${c.fix}`);
        }
        print(blocked ? "\nsomething above (FAIL) blocks a first video" : "\nnothing blocks a first video");
      }
      return blocked ? CliExitCode.failed : 0;
    }),
  );

registerKeyCommands(program, config);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Commander has printed its own message (unknown command or option, missing argument) and the help.
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : CliExitCode.usage);
  await runCommand(false, () => Promise.reject(err instanceof Error ? err : usageError(String(err))));
}
