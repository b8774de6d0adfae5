import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";

/** A kept input and when it was written. */
export interface StoredInput {
  key: string;
  writtenAtMs: number;
}

/**
 * Where jobs' input files (image-to-video images) are kept, by key, so that job data in Redis carries a
 * reference instead of megabytes. Local disk today; an object store can stand behind the same interface.
 */
export interface InputStore {
  /** Writes the bytes under the key in one step: a reader sees all of them or nothing. */
  put(key: string, bytes: Buffer): Promise<void>;
  get(key: string): Promise<Buffer>;
  /** Removes the key; a missing key is not an error. */
  remove(key: string): Promise<void>;
  list(): Promise<StoredInput[]>;
}

const SAFE_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

/** Inputs as files in one folder (OUTPUTS_DIR/inputs): temporary file, fsync, rename. */
export class LocalInputStore implements InputStore {
  constructor(readonly dir: string) {}

  private file(key: string): string {
    if (!SAFE_KEY.test(key) || key.includes("..")) throw new Error(`not an input key: ${JSON.stringify(key)}`);
    return path.join(this.dir, key);
  }

  async put(key: string, bytes: Buffer): Promise<void> {
    const file = this.file(key);
    await mkdir(this.dir, { recursive: true });
    const temp = `${file}.${process.pid}-${randomBytes(4).toString("hex")}.part`;
    const handle = await open(temp, "wx");
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, file);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  get(key: string): Promise<Buffer> {
    return readFile(this.file(key));
  }

  async remove(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  async list(): Promise<StoredInput[]> {
    const names = await readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [] as string[];
      throw err;
    });
    const found = await Promise.all(
      names.filter((n) => SAFE_KEY.test(n) && !n.endsWith(".part")).map(async (key) => {
        const info = await stat(path.join(this.dir, key)).catch(() => undefined);
        return info?.isFile() ? { key, writtenAtMs: info.mtimeMs } : undefined;
      }),
    );
    return found.filter((f): f is StoredInput => f !== undefined);
  }
}

/** The folder under OUTPUTS_DIR that holds the inputs. */
export const inputsDirOf = (outputsDir: string): string => path.join(outputsDir, "inputs");
