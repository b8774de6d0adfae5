import type { Config } from "../config.js";
import type { EnvironmentProblem } from "../contracts/generate-queue.js";
import { S3Outputs } from "./s3-outputs.js";

/**
 * Where a worker's finished files go (OUTPUT_STORE). Files are made in OUTPUTS_DIR either way; `put`
 * makes one the object `key`, whole and checked, and only then may the job complete.
 */
export interface OutputStore {
  readonly kind: Config["OUTPUT_STORE"];
  /** The finished local `file` becomes the object `key` (a second put of a key replaces it: one object). */
  put(key: string, file: string, contentType: string): Promise<void>;
  /** Bytes [start, end) of a growing local file, made readable under `prefix` before they are announced. */
  putPart(prefix: string, file: string, start: number, end: number): Promise<void>;
  /** Removes the part objects whose keys start with `prefix` (an attempt's growing video, once finished or abandoned). */
  removePartials(prefix: string): Promise<void>;
  /** Whether finished files can be stored now; a problem makes the worker wait like a full disk. */
  check(): Promise<EnvironmentProblem | undefined>;
}

/** OUTPUT_STORE=fs: the files stay where the worker wrote them, in OUTPUTS_DIR (its disk is checked already). */
const LOCAL: OutputStore = {
  kind: "fs",
  put: async () => undefined,
  putPart: async () => undefined,
  removePartials: async () => undefined,
  check: async () => undefined,
};

export function openOutputStore(config: Config, probeName: string): OutputStore {
  return config.OUTPUT_STORE === "s3" ? new S3Outputs(config, probeName) : LOCAL;
}
