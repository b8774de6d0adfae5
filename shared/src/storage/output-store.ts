import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config.js";
import type { EnvironmentProblem } from "../contracts/generate-queue.js";
import { S3Outputs } from "./s3-outputs.js";

/**
 * Where a worker's finished files go (OUTPUT_STORE). Files are made in OUTPUTS_DIR either way; `put`
 * makes one the object `key`, whole and checked, and only then may the job complete.
 */
export interface OutputStore {
  readonly kind: Config["OUTPUT_STORE"];
  /**
   * Whose files `list` sees, so retention sweeps each set once per interval: the bucket is every host's,
   * a disk only its host's.
   */
  readonly scope: string;
  /** The finished local `file` becomes the object `key` (a second put of a key replaces it: one object). */
  put(key: string, file: string, contentType: string): Promise<void>;
  /** Bytes [start, end) of a growing local file, made readable under `prefix` before they are announced. */
  putPart(prefix: string, file: string, start: number, end: number): Promise<void>;
  /** Removes the part objects whose keys start with `prefix` (an attempt's growing video, once finished or abandoned). */
  removePartials(prefix: string): Promise<void>;
  /** Whether finished files can be stored now; a problem makes the worker wait like a full disk. */
  check(): Promise<EnvironmentProblem | undefined>;
  /** Every stored file or object whose key starts with `prefix`. */
  list(prefix: string): AsyncIterable<{ key: string }>;
  /** Removes the keys; one already gone is not an error. */
  remove(keys: string[]): Promise<void>;
}

/**
 * OUTPUT_STORE=fs: the files stay where the worker wrote them, in OUTPUTS_DIR (its disk is checked
 * already), and are keyed by their names there. Only the folder's own files: `inputs/` has its own sweep.
 */
export class DiskOutputs implements OutputStore {
  readonly kind = "fs";
  readonly scope: string;

  constructor(
    private readonly dir: string,
    host: string,
  ) {
    this.scope = `disk:${host}`;
  }

  put = async (): Promise<void> => undefined;
  putPart = async (): Promise<void> => undefined;
  removePartials = async (): Promise<void> => undefined;
  check = async (): Promise<EnvironmentProblem | undefined> => undefined;

  async *list(prefix: string): AsyncGenerator<{ key: string }> {
    const entries = await readdir(this.dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      throw err;
    });
    for (const e of entries) if (e.isFile() && e.name.startsWith(prefix)) yield { key: e.name };
  }

  async remove(keys: string[]): Promise<void> {
    for (const key of keys) await rm(path.join(this.dir, path.basename(key)), { force: true });
  }
}

export function openOutputStore(config: Config, probeName: string): OutputStore {
  return config.OUTPUT_STORE === "s3" ? new S3Outputs(config, probeName) : new DiskOutputs(config.OUTPUTS_DIR, config.HOST_ID);
}
