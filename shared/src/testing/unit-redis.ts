import { after, before } from "node:test";
import { Redis } from "ioredis";
import { TestRedis, makeTempDir } from "./processes.js";

export interface UnitRedis {
  /** A client connected before the first test. */
  readonly client: Redis;
  readonly url: string;
}

/** A private Redis for one unit-test file: started before its tests, stopped and removed after them. */
export function redisForTests(name: string): UnitRedis {
  let server: TestRedis | undefined;
  let client: Redis | undefined;
  let remove = async () => undefined as void;
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
  };
}
