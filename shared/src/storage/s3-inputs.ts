import { createHash } from "node:crypto";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import type { Config } from "../config.js";
import { LocalInputStore, inputsDirOf, type InputStore, type StoredInput } from "../images/input-store.js";
import type { OutputStore } from "./output-store.js";
import { S3Outputs } from "./s3-outputs.js";

/** Inputs' objects live under this prefix: apart from the outputs' `<job id>.*` keys and their retention. */
export const INPUTS_PREFIX = "inputs/";

/**
 * Jobs' inputs in the output store's bucket (OUTPUT_STORE=s3), so a worker on any host reads the image the
 * API took. One PUT is atomic (a reader sees all of the object or none); its SHA-256 goes with it.
 */
export class S3Inputs implements InputStore {
  constructor(private readonly s3: S3Outputs) {}

  async put(key: string, bytes: Buffer): Promise<void> {
    const ChecksumSHA256 = createHash("sha256").update(bytes).digest("base64");
    await this.s3.client.send(new PutObjectCommand({ Bucket: this.s3.bucket, Key: INPUTS_PREFIX + key, Body: bytes, ContentLength: bytes.length, ChecksumSHA256 }));
  }

  async get(key: string): Promise<Buffer> {
    const answer = await this.s3.client.send(new GetObjectCommand({ Bucket: this.s3.bucket, Key: INPUTS_PREFIX + key }));
    return Buffer.from(await answer.Body!.transformToByteArray());
  }

  async remove(key: string): Promise<void> {
    await this.s3.client.send(new DeleteObjectCommand({ Bucket: this.s3.bucket, Key: INPUTS_PREFIX + key }));
  }

  async list(): Promise<StoredInput[]> {
    const found: StoredInput[] = [];
    for await (const o of this.s3.list(INPUTS_PREFIX)) found.push({ key: o.key.slice(INPUTS_PREFIX.length), writtenAtMs: o.lastModified.getTime() });
    return found;
  }
}

/** Inputs go where outputs go: the bucket with OUTPUT_STORE=s3 (every host reads it), else OUTPUTS_DIR/inputs. */
export function openInputStore(config: Pick<Config, "OUTPUTS_DIR">, outputs: OutputStore | undefined): InputStore {
  return outputs instanceof S3Outputs ? new S3Inputs(outputs) : new LocalInputStore(inputsDirOf(config.OUTPUTS_DIR));
}
