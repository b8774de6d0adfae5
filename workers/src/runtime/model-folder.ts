import { readFile } from "node:fs/promises";
import path from "node:path";
import ort from "onnxruntime-node";
import { Tokenizer } from "@huggingface/tokenizers";
import { checkGraph, JobFailure, type FamilyContract, type Manifest } from "@videosdgx/shared";
import { isOutOfMemory } from "../jobs/failure.js";
import { parseSchedulerConfig, type SchedulerConfig } from "../pipeline/scheduler-config.js";
import { ModelSession } from "../onnx/session-thread.js";

/**
 * An inspected model folder as a family module loads it: its configs, tokenizer and sessions, each
 * checked against the family's contract. Every session it opens is released by `release()`.
 */
export class ModelFolder {
  private readonly sessions: ModelSession[] = [];

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly manifest: Manifest,
    private readonly contract: FamilyContract,
    private readonly options: ort.InferenceSession.SessionOptions,
  ) {}

  /** A config problem stops the model for good: the folder must change, another attempt cannot help. */
  private invalid(err: unknown): JobFailure {
    return new JobFailure("model_invalid", `model ${this.name}: ${(err as Error).message}`, false);
  }

  async readJson(rel: string): Promise<unknown> {
    try {
      return JSON.parse(await readFile(path.join(this.dir, rel), "utf8"));
    } catch (err) {
      throw this.invalid(new Error(`${rel}: ${(err as Error).message}`));
    }
  }

  /** Runs a check of the folder's configs; its error becomes the model's `model_invalid` reason. */
  checked<T>(check: () => T): T {
    try {
      return check();
    } catch (err) {
      throw this.invalid(err);
    }
  }

  /** Parses a config file with `parse`, its errors as `model_invalid`. */
  async config<T>(rel: string, parse: (json: unknown) => T): Promise<T> {
    const json = await this.readJson(rel);
    return this.checked(() => parse(json));
  }

  scheduler(): Promise<SchedulerConfig> {
    return this.config("scheduler/scheduler_config.json", parseSchedulerConfig);
  }

  async tokenizer(): Promise<Tokenizer> {
    const json = await this.readJson("tokenizer/tokenizer.json");
    const config = await this.readJson("tokenizer/tokenizer_config.json").catch(() => ({}));
    try {
      return new Tokenizer(json as object, config as object);
    } catch (err) {
      throw this.invalid(new Error(`tokenizer/tokenizer.json: ${(err as Error).message}`));
    }
  }

  /**
   * Opens `<component>/model.onnx` from its path (external weights beside it are found without an extra
   * in-memory copy) and checks its inputs and outputs against the contract, by name, type and rank.
   */
  async session(component: string): Promise<ModelSession> {
    const rel = `${component}/model.onnx`;
    let session: ModelSession;
    try {
      session = await ModelSession.open(path.join(this.dir, rel), this.options);
    } catch (err) {
      const message = (err as Error).message;
      const oom = isOutOfMemory(message);
      throw new JobFailure(oom ? "out_of_memory" : "model_load_failed", `loading ${this.name}/${rel} failed: ${message}`, oom);
    }
    this.sessions.push(session);
    const contract = this.contract.graphs[rel];
    const reason = contract && checkGraph(rel, contract, sessionSignature(session));
    if (reason) throw this.invalid(new Error(`${reason} (family ${this.contract.name})`));
    return session;
  }

  async release(): Promise<void> {
    await Promise.all(this.sessions.splice(0).map((s) => s.release()));
  }
}

/** A loaded session's inputs and outputs in the shape inspection reads them from a file. */
function sessionSignature(session: ModelSession) {
  const describe = (m: ort.InferenceSession.ValueMetadata) => ({
    name: m.name,
    type: m.isTensor ? m.type : "non-tensor",
    rank: m.isTensor && m.shape.length > 0 ? m.shape.length : undefined,
  });
  return { inputs: session.inputMetadata.map(describe), outputs: session.outputMetadata.map(describe) };
}
