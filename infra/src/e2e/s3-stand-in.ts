import path from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import S3rver, { type S3rverStore } from "s3rver";
import { freePort } from "@videosdgx/shared/testing";

const BUCKET = "videos";
/**
 * s3rver's own credentials. It refuses a request whose access key id is not this one (InvalidAccessKeyId,
 * HTTP 403), but does not verify SigV4 signatures (3.7: "unimplemented"), so a wrong secret goes through.
 */
const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/**
 * S3 replaces an object atomically: a GET racing a PUT of its key gets the whole old object or the whole
 * new one. s3rver rewrites the object's file in place (truncated, then written, its size and MD5 read from
 * beside it), so such a GET can get a torn object. Here the calls on one key take turns, a GET holding its
 * key until its body has been read out.
 */
function replaceAtomically(store: S3rverStore): void {
  const tails = new Map<string, Promise<void>>();
  const turn = async (bucket: string, key: string): Promise<() => void> => {
    const id = `${bucket}/${key}`;
    const before = tails.get(id) ?? Promise.resolve();
    let done!: () => void;
    const mine = before.then(() => new Promise<void>((resolve) => (done = resolve)));
    tails.set(id, mine);
    await before;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      done();
      if (tails.get(id) === mine) tails.delete(id);
    };
  };
  const { getObject, putObject, deleteObject } = store;
  store.getObject = async (bucket, key, options) => {
    const release = await turn(bucket, key);
    try {
      const object = await getObject.call(store, bucket, key, options);
      const content = object?.content;
      if (content) {
        content.once("close", release);
        // A conditional GET answered 304 leaves the body unread and open: it is closed, and its turn ends.
        setTimeout(() => content.destroy(), 10_000).unref();
      } else release();
      return object;
    } catch (err) {
      release();
      throw err;
    }
  };
  store.putObject = async (object) => {
    const release = await turn(object.bucket, object.key);
    try {
      return await putObject.call(store, object);
    } finally {
      release();
    }
  };
  store.deleteObject = async (bucket, key) => {
    const release = await turn(bucket, key);
    try {
      return await deleteObject.call(store, bucket, key);
    } finally {
      release();
    }
  };
}

/**
 * An S3-compatible server for the tests (s3rver: the S3 REST protocol, path-style, ranged GETs,
 * over its own folder), stoppable and restartable on the same port and objects, like a store that goes
 * away and comes back. It does not check upload checksums: the tests compare the stored bytes instead.
 */
export class S3StandIn {
  private server: S3rver | undefined;
  readonly client: S3Client;

  private constructor(readonly port: number, private readonly dir: string) {
    this.client = new S3Client({ endpoint: this.endpoint, region: "us-east-1", forcePathStyle: true, credentials: CREDENTIALS });
  }

  static async start(dir: string): Promise<S3StandIn> {
    const s = new S3StandIn(await freePort(), path.join(dir, "s3"));
    await s.restart();
    return s;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** What a process needs to use this server as its output store. */
  env(): Record<string, string> {
    return {
      OUTPUT_STORE: "s3", S3_ENDPOINT: this.endpoint, S3_BUCKET: BUCKET, S3_REGION: "us-east-1", S3_FORCE_PATH_STYLE: "1",
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    };
  }

  /** Starts the server unless it runs. */
  async restart(): Promise<void> {
    if (this.server) return;
    this.server = new S3rver({ port: this.port, address: "127.0.0.1", silent: true, directory: this.dir, configureBuckets: [{ name: BUCKET }] });
    replaceAtomically(this.server.store);
    await this.server.run();
  }

  /** Stops the server (connections refused from now on) unless it is stopped. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = server.close();
    // close() waits for open connections, and a worker storing a preview each step keeps its kept-alive
    // socket busy for good: they are cut, as they are when a store goes away.
    server.httpServer?.closeAllConnections();
    await closed;
  }

  /** A bucket beside the one env() names, as an operator makes one (s3rver keeps it in its folder). */
  async createBucket(bucket: string): Promise<void> {
    await this.client.send(new CreateBucketCommand({ Bucket: bucket }));
  }

  /** The bucket's keys (probes excluded), sorted. */
  async keys(bucket = BUCKET): Promise<string[]> {
    const page = await this.client.send(new ListObjectsV2Command({ Bucket: bucket }));
    return (page.Contents ?? []).map((o) => o.Key!).filter((k) => !k.startsWith(".probe/")).sort();
  }

  async object(key: string, bucket = BUCKET): Promise<Buffer> {
    const answer = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await answer.Body!.transformToByteArray());
  }
}
