/** The part of s3rver's API the tests use (it ships no types). */
declare module "s3rver" {
  interface S3rverOptions {
    port?: number;
    address?: string;
    silent?: boolean;
    directory: string;
    configureBuckets?: { name: string }[];
  }
  export default class S3rver {
    constructor(options: S3rverOptions);
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
    /** The node:http server it listens with (set by run). */
    readonly httpServer: import("node:http").Server | undefined;
    /** Its filesystem store: the object calls, as s3rver 3.7's lib/stores/filesystem.js has them. */
    readonly store: S3rverStore;
  }
  export interface S3rverStore {
    getObject(bucket: string, key: string, options?: unknown): Promise<{ content: import("node:stream").Readable | null } | null>;
    putObject(object: { bucket: string; key: string }): Promise<unknown>;
    deleteObject(bucket: string, key: string): Promise<unknown>;
  }
}
