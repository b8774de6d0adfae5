import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { Config } from "../config.js";
import type { EnvironmentProblem } from "../contracts/generate-queue.js";
import type { OutputStore } from "./output-store.js";

export interface StoredObject {
  key: string;
  size: number;
  lastModified: Date;
}

/** A part object's name: its first byte's offset, zero-padded so the bucket's key order is byte order. */
export const partKey = (prefix: string, start: number): string => `${prefix}/${String(start).padStart(15, "0")}`;

/** Statuses that mean the store answered and said no (credentials, bucket, policy), not that it is away. */
const REFUSALS = new Set([301, 400, 401, 403, 404, 405]);

/** An S3 error as a worker's environment problem: no such bucket or refused (fix the settings), or unreachable (wait). */
export function storeProblem(config: Pick<Config, "S3_BUCKET" | "S3_ENDPOINT">, err: unknown): EnvironmentProblem {
  const where = `bucket ${config.S3_BUCKET}${config.S3_ENDPOINT ? ` at ${config.S3_ENDPOINT}` : ""}`;
  const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
  const detail = err instanceof S3ServiceException ? `${err.name}${status ? ` (HTTP ${status})` : ""}: ${err.message}` : (err as Error).message;
  // Named apart from other refusals: the fix is to create the bucket (or name another), not to check keys.
  if (err instanceof S3ServiceException && err.name === "NoSuchBucket") {
    const mb = `aws s3 mb s3://${config.S3_BUCKET}${config.S3_ENDPOINT ? ` --endpoint-url ${config.S3_ENDPOINT}` : ""}`;
    return { code: "store_missing_bucket", message: `the bucket ${config.S3_BUCKET} does not exist${config.S3_ENDPOINT ? ` at ${config.S3_ENDPOINT}` : ""}: create it (${mb}) or set S3_BUCKET to one that does` };
  }
  if (status !== undefined && REFUSALS.has(status)) {
    return { code: "store_refused", message: `the output store refuses writes to ${where}: ${detail}; check S3_BUCKET, S3_REGION and the credentials` };
  }
  return { code: "store_unreachable", message: `the output store (${where}) is unreachable: ${detail}; finished videos wait until it answers` };
}

/** Bytes [start, end) of a file. */
interface Span {
  start: number;
  end: number;
}

async function digests(file: string, span: Span): Promise<{ sha256: string; md5: string }> {
  const sha256 = createHash("sha256");
  const md5 = createHash("md5");
  await pipeline(createReadStream(file, { start: span.start, end: span.end - 1 }), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      sha256.update(chunk);
      md5.update(chunk);
    }
  });
  return { sha256: sha256.digest("base64"), md5: md5.digest("hex") };
}

/**
 * OUTPUT_STORE=s3, through the AWS SDK v3: objects named by the job's file names (`<job id>.mp4`,
 * `<job id>.jpg`, ...) in S3_BUCKET. Each upload carries its SHA-256 (the server refuses bytes that do
 * not match) and its returned ETag is compared with the file's MD5 (where the ETag is one), so a server
 * that does not check the checksum still cannot store other bytes unnoticed. The local copy is removed once stored.
 */
export class S3Outputs implements OutputStore {
  readonly kind = "s3";
  readonly scope = "bucket";
  readonly client: S3Client;
  readonly bucket: string;

  constructor(
    private readonly config: Config,
    /** Names this process's write probe, so two workers' probes never collide. */
    private readonly probeName: string,
  ) {
    this.bucket = config.S3_BUCKET!;
    this.client = new S3Client({
      region: config.S3_REGION,
      ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      // Credentials given explicitly replace the SDK's whole chain, so a temporary pair's token must come with them.
      ...(config.AWS_ACCESS_KEY_ID
        ? { credentials: { accessKeyId: config.AWS_ACCESS_KEY_ID, secretAccessKey: config.AWS_SECRET_ACCESS_KEY!, ...(config.AWS_SESSION_TOKEN ? { sessionToken: config.AWS_SESSION_TOKEN } : {}) } }
        : {}),
      // A store that is away must not hold a job for minutes: the environment check says so and the job waits.
      maxAttempts: 2,
      // Each upload sends its own SHA-256 header; no aws-chunked trailer checksums, which many S3-compatible
      // servers store as part of the object instead of checking.
      requestChecksumCalculation: "WHEN_REQUIRED",
      requestHandler: { connectionTimeout: 3000, requestTimeout: 60_000 },
    });
  }

  async put(key: string, file: string, contentType: string): Promise<void> {
    await this.upload(key, file, contentType, { start: 0, end: (await stat(file)).size });
    await rm(file, { force: true });
  }

  async putPart(prefix: string, file: string, start: number, end: number): Promise<void> {
    await this.upload(partKey(prefix, start), file, "video/mp4", { start, end });
  }

  async removePartials(prefix: string): Promise<void> {
    const keys: string[] = [];
    for await (const o of this.list(prefix)) keys.push(o.key);
    await this.remove(keys);
  }

  private async upload(key: string, file: string, contentType: string, span: Span): Promise<void> {
    const { sha256, md5 } = await digests(file, span);
    const body = createReadStream(file, { start: span.start, end: span.end - 1 });
    const answer = await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: span.end - span.start, ContentType: contentType, ChecksumSHA256: sha256 }),
    );
    // A single PUT's ETag is the MD5 of its bytes, except under KMS or customer-key encryption.
    const etagIsMd5 = !answer.ServerSideEncryption?.startsWith("aws:kms") && !answer.SSECustomerAlgorithm;
    const etag = answer.ETag?.replace(/"/g, "");
    if (etagIsMd5 && etag !== undefined && /^[0-9a-f]{32}$/.test(etag) && etag !== md5) {
      throw new Error(`the output store stored other bytes for ${key} (ETag ${etag}, file MD5 ${md5})`);
    }
  }

  /** A real write and delete of a small object: what storing a video needs (reachable, bucket there, allowed). */
  async check(): Promise<EnvironmentProblem | undefined> {
    const Key = `.probe/${this.probeName}`;
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: "probe", ContentType: "text/plain" }));
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
      return undefined;
    } catch (err) {
      return storeProblem(this.config, err);
    }
  }

  /** The object's size, or undefined when there is none. */
  async size(key: string): Promise<number | undefined> {
    try {
      return (await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }))).ContentLength;
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return undefined;
      throw err;
    }
  }

  /** The object's bytes [start, end] (inclusive, as in a Range header), or all of it. */
  async read(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
    return answer.Body as Readable;
  }

  /**
   * The whole object from one GetObject, or undefined when there is none: for a small object replaced at
   * any time (a running job's preview), where a size asked first could be another version's.
   */
  async bytes(key: string): Promise<Buffer | undefined> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return Buffer.from(await answer.Body!.transformToByteArray());
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return undefined;
      throw err;
    }
  }

  /** A URL anyone may GET the object with (Range included) for S3_PRESIGN_SECONDS. */
  presign(key: string): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: this.config.S3_PRESIGN_SECONDS });
  }

  /** Every object whose key starts with `prefix`, in key order. */
  async *list(prefix = ""): AsyncGenerator<StoredObject> {
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) yield { key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async remove(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000).map((Key) => ({ Key }));
      const answer = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }));
      if (answer.Errors?.length) throw new Error(`the output store kept ${answer.Errors.length} objects: ${answer.Errors[0]!.Code} ${answer.Errors[0]!.Message}`);
    }
  }
}
