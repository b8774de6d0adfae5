import { createHash } from "node:crypto";
import { realpath } from "node:fs/promises";
import { createServer, type Server } from "node:net";

/** Raised when another live `npm start` holds the same data dir. */
export class DataDirLockedError extends Error {
  constructor(readonly dir: string) {
    super(`${dir} is in use by another running npm start; stop it first, or give this one another DATA_DIR`);
  }
}

/**
 * One launcher per data dir. The lock is an abstract Unix socket named after the dir's real path: the
 * kernel drops it when its process dies, however it dies (SIGKILL, the OOM killer), so a crash never
 * leaves a stale lock behind, and taking it is atomic. Held until the process exits.
 */
export async function lockDataDir(dir: string): Promise<Server> {
  const real = await realpath(dir);
  const name = `\0videosdgx-data-dir-${createHash("sha256").update(real).digest("hex").slice(0, 32)}`;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(err.code === "EADDRINUSE" ? new DataDirLockedError(real) : err));
    server.listen(name, () => resolve());
  });
  server.unref();
  return server;
}
