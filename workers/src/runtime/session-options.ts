import ort from "onnxruntime-node";
import type { Config } from "@videosdgx/shared";
import { ConfigError } from "@videosdgx/shared";

const KNOWN_PROVIDERS = ["cpu", "cuda", "tensorrt", "webgpu"] as const;

/**
 * Checks ORT_EXECUTION_PROVIDERS against what the installed binding was compiled with, at start-up:
 * the npm package on ARM64 is CPU-only, and a job must never be the first to find that out.
 */
export function checkExecutionProviders(config: Config): void {
  const available = new Map(ort.listSupportedBackends().map((b) => [b.name, b.bundled]));
  for (const ep of config.ORT_EXECUTION_PROVIDERS) {
    if (!(KNOWN_PROVIDERS as readonly string[]).includes(ep)) {
      throw new ConfigError(`ORT_EXECUTION_PROVIDERS: unknown provider "${ep}" (known: ${KNOWN_PROVIDERS.join(", ")})`);
    }
    if (available.get(ep) !== true) {
      throw new ConfigError(
        `ORT_EXECUTION_PROVIDERS: "${ep}" is not available in the installed onnxruntime-node ` +
          `(it has: ${[...available].filter(([, ok]) => ok).map(([n]) => n).join(", ")}). ` +
          `On ARM64 (DGX Spark) CUDA needs onnxruntime built from source with --build_nodejs --use_cuda; see README.`,
      );
    }
  }
}

export function sessionOptions(config: Config): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: config.ORT_EXECUTION_PROVIDERS,
    graphOptimizationLevel: "all",
    ...(config.ORT_INTRA_OP_THREADS > 0 ? { intraOpNumThreads: config.ORT_INTRA_OP_THREADS } : {}),
    ...(config.ORT_INTER_OP_THREADS > 0 ? { interOpNumThreads: config.ORT_INTER_OP_THREADS } : {}),
  };
}
