import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import ort from "onnxruntime-node";
import type { Config } from "@videosdgx/shared";
import { ConfigError } from "@videosdgx/shared";

const KNOWN_PROVIDERS = ["cpu", "cuda", "tensorrt", "webgpu"] as const;
const PROBE = fileURLToPath(new URL("./provider-probe.js", import.meta.url));
/** Loading CUDA and opening the device take seconds; a probe still running after this has hung. */
const PROBE_TIMEOUT_MS = 120_000;
const GPU_IMAGE_HINT =
  " For CUDA on ARM64 (DGX Spark) run the worker in the image built from infra/docker/Dockerfile.cuda " +
  "(docker compose --profile gpu); see README, \"GPU on DGX Spark\".";
/** The NVIDIA providers are the ones a Spark needs the source build for. */
const hintFor = (ep: string): string => (ep === "cuda" || ep === "tensorrt" ? GPU_IMAGE_HINT : "");

/**
 * Checks ORT_EXECUTION_PROVIDERS at start-up, so a job is never the first to find a provider missing. The
 * binding's own list is not enough: a build with CUDA lists it as `bundled: false` (its libraries live beside
 * the binding, or nowhere), so each provider other than cpu is tried for real on a tiny graph. CPU-only workers
 * pay nothing.
 */
export async function checkExecutionProviders(config: Config): Promise<void> {
  const compiledIn = ort.listSupportedBackends().map((b) => b.name);
  for (const ep of config.ORT_EXECUTION_PROVIDERS) {
    if (!(KNOWN_PROVIDERS as readonly string[]).includes(ep)) {
      throw new ConfigError(`ORT_EXECUTION_PROVIDERS: unknown provider "${ep}" (known: ${KNOWN_PROVIDERS.join(", ")})`);
    }
    if (!compiledIn.includes(ep)) {
      throw new ConfigError(
        `ORT_EXECUTION_PROVIDERS: "${ep}" is not compiled into the installed onnxruntime-node ` +
          `(${ort.env.versions.node ?? "?"}, ${process.platform}-${process.arch}; it has: ${compiledIn.join(", ")}).${hintFor(ep)}`,
      );
    }
    if (ep === "cpu") continue;
    const failure = await probeProvider(ep);
    if (failure) {
      throw new ConfigError(`ORT_EXECUTION_PROVIDERS: "${ep}" does not work here: ${failure}.${hintFor(ep)}`);
    }
  }
}

/**
 * Runs the probe in a child process: ORT gives JS only "Failed to load shared library", while the
 * library and the loader's reason are in its log on stderr; and a GPU context opened here would stay in
 * this process for good. Resolves to undefined when the provider works, else to the reason.
 */
function probeProvider(ep: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PROBE, ep], { timeout: PROBE_TIMEOUT_MS, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(undefined);
      if (err.killed) return resolve(`creating a session took longer than ${PROBE_TIMEOUT_MS / 1000} s`);
      resolve(explainProviderFailure(stdout, stderr) || `the probe process failed (${err.message.split("\n")[0]})`);
    });
  });
}

/** The causes worth telling apart, in ORT's and CUDA's own words. */
const CAUSES: [RegExp, (m: RegExpMatchArray) => string][] = [
  [/Failed to load library \S+ with error: (.+)/, (m) => `a library it needs is missing: ${m[1]}`],
  [/no CUDA-capable device is detected|cudaErrorNoDevice/, () => "no GPU is visible to this process (in a container: the nvidia runtime and a GPU reservation)"],
  [/CUDA driver version is insufficient|cudaErrorInsufficientDriver/, () => "the NVIDIA driver is older than the CUDA this build uses"],
  [
    /no kernel image is available|cudaErrorNoKernelImageForDevice|invalid device function/,
    () => "this build has no GPU code for this device's compute capability (GB10 is sm_121: CMAKE_CUDA_ARCHITECTURES=121)",
  ],
];

/** Names the cause found in ORT's error and log, and quotes ORT's own error text. */
function explainProviderFailure(errorText: string, log: string): string {
  const text = `${errorText}\n${log.replace(/\x1b\[[0-9;]*m/g, "")}`;
  const said = errorText.trim() || text.split("\n").find((line) => /\[E:onnxruntime/.test(line))?.trim() || "";
  for (const [pattern, explain] of CAUSES) {
    const m = text.match(pattern);
    if (m) return `${explain(m).trim()} (ONNX Runtime: ${said})`;
  }
  return said && `ONNX Runtime: ${said}`;
}

export function sessionOptions(config: Config): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: config.ORT_EXECUTION_PROVIDERS,
    graphOptimizationLevel: "all",
    ...(config.ORT_INTRA_OP_THREADS > 0 ? { intraOpNumThreads: config.ORT_INTRA_OP_THREADS } : {}),
    ...(config.ORT_INTER_OP_THREADS > 0 ? { interOpNumThreads: config.ORT_INTER_OP_THREADS } : {}),
    extra: {
      session: {
        // Repacking copies every weight at load; left off, external data is used where it lies (see .env.example).
        ...(config.ORT_PREPACK_WEIGHTS ? {} : { disable_prepacking: "1" }),
        // Threads spinning after a run take the cores the sampler's pass between forwards needs.
        intra_op: { allow_spinning: config.ORT_SPIN_WAIT ? "1" : "0" },
        inter_op: { allow_spinning: config.ORT_SPIN_WAIT ? "1" : "0" },
      },
    },
  };
}
