import { after, afterEach, before } from "node:test";
import { Redis } from "ioredis";
import { TestRedis, makeTempDir } from "./processes.js";

export interface UnitRedis {
  /** A client connected before the first test. */
  readonly client: Redis;
  readonly url: string;
  /** A connection of its own (for BullMQ workers and readers, which block), closed after the test that made it. */
  connection(): Redis;
}

/** A private Redis for one unit-test file: started before its tests, stopped and removed after them. */
export function redisForTests(name: string): UnitRedis {
  let server: TestRedis | undefined;
  let client: Redis | undefined;
  let remove = async () => undefined as void;
  // Closing a BullMQ worker leaves a connection it was given open: each test's are closed after it.
  const connections: Redis[] = [];
  afterEach(() => {
    for (const c of connections.splice(0)) c.disconnect();
  });
  before(async () => {
    const tmp = await makeTempDir(name);
    remove = tmp.remove;
    server = await TestRedis.start(tmp.dir);
    client = new Redis(server.url);
  });
  after(async () => {
    client?.disconnect();
    await server?.kill("SIGTERM");
    await remove();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the test Redis is used before its tests started");
    return value;
  };
  return {
    get client() {
      return started(client);
    },
    get url() {
      return started(server).url;
    },
    connection() {
      const c = new Redis(started(server).url, { maxRetriesPerRequest: null });
      connections.push(c);
      return c;
    },
  };
}
