import { inspectModel, listModelNames, type Config } from "@videosdgx/shared";
import { exists } from "../models/folder.js";
import { verifyModel } from "../models/verify.js";
import { fail, ok, warn, type DoctorCheck } from "./check.js";
import { checkOnnxRuntime } from "./onnxruntime-check.js";
import { checkApi, checkOutputStore, checkRedis } from "./service-checks.js";
import { checkDisk, checkFfmpeg, checkGpu, checkMemory, checkNode } from "./system-checks.js";

/** Each model folder present under MODELS_DIR, verified without running it; and the largest load peak among them. */
async function checkModels(config: Config): Promise<{ checks: DoctorCheck[]; peakBytes: number }> {
  const checks: DoctorCheck[] = [];
  let peakBytes = 0;
  for (const name of await listModelNames(config.MODELS_DIR)) {
    const state = await inspectModel(config.MODELS_DIR, name);
    if (!state.installed && !(await exists(state.dir))) continue;
    const report = await verifyModel(config, name, { run: false });
    const problems = report.checks.filter((c) => !c.ok).map((c) => c.detail);
    if (report.ok) {
      const m = state.installed ? state.manifest : undefined;
      if (m) peakBytes = Math.max(peakBytes, m.memory.resident_bytes * m.memory.load_peak_factor);
      checks.push(ok(`model:${name}`, report.checks.map((c) => c.detail).join("; ")));
    } else {
      checks.push(fail(`model:${name}`, problems.join("; "), `npm run models -- verify ${name} shows the details; repair or remove the folder (npm run models -- rm ${name})`));
    }
  }
  if (checks.length === 0) checks.push(warn("models", `no model folder under MODELS_DIR ${config.MODELS_DIR}`, "npm start generates the built-in tiny model; npm run models -- pull <name> fetches a real one"));
  return { checks, peakBytes };
}

/** Every check, in the order a first video needs them. None throws: each says what it found. */
export async function runDoctor(config: Config): Promise<DoctorCheck[]> {
  const models = await checkModels(config);
  const [ffmpeg, redis, store, gpu, memory, disk, ort, api] = await Promise.all([
    checkFfmpeg(config),
    checkRedis(config),
    checkOutputStore(config),
    checkGpu(),
    checkMemory(models.peakBytes),
    checkDisk(config),
    checkOnnxRuntime(config),
    checkApi(config),
  ]);
  return [checkNode(), ffmpeg, redis, store, ...ort, gpu, memory, ...disk, ...models.checks, api];
}
