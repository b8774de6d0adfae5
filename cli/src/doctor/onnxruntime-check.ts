import { createRequire } from "node:module";
import type { Config } from "@videosdgx/shared";
import { fail, ok, warn, type DoctorCheck } from "./check.js";

/** Providers worth telling about even when not asked for: the GPU ones a Spark should have. */
const GPU_PROVIDERS = ["cuda", "tensorrt"];

/** The smallest real graph: y = Identity(x). A session on it proves the provider loads and runs. */
async function probeGraph(): Promise<Uint8Array> {
  const { GraphBuilder, DataType } = await import("@videosdgx/workers/onnx");
  const g = new GraphBuilder("provider_probe");
  const x = g.input("x", DataType.FLOAT, [1]);
  g.output(x, "y", DataType.FLOAT, [1]);
  return g.build();
}

/** Why a provider failed, in a user's terms, from ONNX Runtime's message. */
function explain(provider: string, message: string): string {
  if (/not (supported|available|found)|unknown|invalid.*(provider|backend)|backend/i.test(message)) {
    return `this onnxruntime-node binding was built without ${provider} (the npm package is CPU-only on ARM64)`;
  }
  if (/Failed to load (shared )?librar|lib\S*\.so|cannot open shared object/i.test(message)) {
    return `its libraries are not beside the binding (this onnxruntime-node is the npm build, whose ${provider} libraries are absent, or CUDA/cuDNN are not installed): ${message}`;
  }
  if (/no CUDA-capable device|cudaErrorNoDevice|device/i.test(message)) return `no usable GPU: ${message}`;
  if (/compute capability|sm_\d+|no kernel image/i.test(message)) return `built for another GPU architecture: ${message}`;
  return message;
}

/**
 * The onnxruntime-node version, and for each provider asked for in ORT_EXECUTION_PROVIDERS (plus cuda and
 * tensorrt) whether a session really runs with it: what the binding lists is not proof.
 */
export async function checkOnnxRuntime(config: Config): Promise<DoctorCheck[]> {
  let ort: typeof import("onnxruntime-node");
  try {
    ort = (await import("onnxruntime-node")).default as unknown as typeof import("onnxruntime-node");
  } catch (err) {
    return [fail("onnxruntime", `onnxruntime-node does not load: ${(err as Error).message.split("\n")[0]}`, "run npm install again")];
  }
  const version = (createRequire(import.meta.url)("onnxruntime-node/package.json") as { version: string }).version;
  const graph = await probeGraph();
  // A provider that fails to load is reported here, in words; ONNX Runtime's own log line would only repeat it.
  ort.env.logLevel = "fatal";
  const checks: DoctorCheck[] = [ok("onnxruntime", `onnxruntime-node ${version}; the binding lists ${ort.listSupportedBackends().map((b) => b.name).join(", ")}`)];
  const wanted = config.ORT_EXECUTION_PROVIDERS;
  for (const provider of [...new Set([...wanted, ...GPU_PROVIDERS])]) {
    const requested = wanted.includes(provider);
    try {
      const session = await ort.InferenceSession.create(graph, { executionProviders: [provider] });
      const out = await session.run({ x: new ort.Tensor("float32", Float32Array.of(1.5), [1]) });
      await session.release();
      const y = (out.y?.data as Float32Array | undefined)?.[0];
      checks.push(y === 1.5 ? ok(`provider:${provider}`, `a session with ${provider} runs${requested ? " (requested)" : ""}`) : fail(`provider:${provider}`, `a session with ${provider} gave ${y} for 1.5`, "rebuild the binding"));
    } catch (err) {
      const why = explain(provider, (err as Error).message.split("\n")[0] ?? "");
      checks.push(
        requested
          ? fail(`provider:${provider}`, `ORT_EXECUTION_PROVIDERS asks for ${provider}, but a session with it fails: ${why}`, "build ONNX Runtime with it (README, GPU on DGX Spark) or remove it from ORT_EXECUTION_PROVIDERS")
          : warn(`provider:${provider}`, `${provider} is not available: ${why}`, "for GPU inference on a Spark build the CUDA binding (README, GPU on DGX Spark)"),
      );
    }
  }
  return checks;
}
