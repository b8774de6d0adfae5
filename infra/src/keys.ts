import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { ApiKeyStore, ExitCode, SCOPES, loadConfigOrExit, parseScopes, type ApiKeyRecord } from "@videosdgx/shared";

/**
 * `npm run keys -- create --scope jobs:write,jobs:read [--name X] [--json]`, `list [--json]`, `revoke <id>`:
 * API keys in the platform's Redis (REDIS_URL, or the one `npm start` runs on OWN_REDIS_PORT).
 */
const USAGE = `usage:
  npm run keys -- create --scope <${SCOPES.join("|")}>[,...] [--name <label>] [--json]
  npm run keys -- list [--json]
  npm run keys -- revoke <id>`;

function fail(message: string, code = 1): never {
  process.stderr.write(`keys: ${message}\n`);
  process.exit(code);
}

/** Bad input: the message, the usage, the configuration exit code (2). */
function orUsage<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`, ExitCode.config);
  }
}

const config = loadConfigOrExit("keys");
const args = orUsage(() =>
  parseArgs({
    allowPositionals: true,
    options: { scope: { type: "string" }, name: { type: "string" }, json: { type: "boolean", default: false } },
  }),
);
const [command, ...rest] = args.positionals;
const redisUrl = config.REDIS_URL ?? `redis://127.0.0.1:${config.OWN_REDIS_PORT}`;
const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
let connectError = "";
redis.on("error", (err: Error) => (connectError ||= err.message));
await redis.connect().catch((err: Error) =>
  fail(`cannot reach Redis at ${redisUrl} (${connectError || err.message}): start the platform (npm start) or set REDIS_URL`),
);
const store = new ApiKeyStore(redis, config.QUEUE_PREFIX);
const print = (text: string) => process.stdout.write(`${text}\n`);
const row = (k: ApiKeyRecord) =>
  [k.id, k.revoked_at ? `revoked ${k.revoked_at}` : "active", k.scopes.join(","), k.created_at, k.last_used_at ?? "never used", k.name].join("  ");

try {
  switch (command) {
    case "create": {
      const scopes = orUsage(() => {
        if (rest.length > 0 || args.values.scope === undefined) throw new Error("create takes --scope and no other argument");
        return parseScopes(args.values.scope);
      });
      const created = await store.create(scopes, args.values.name);
      if (args.values.json) print(JSON.stringify(created));
      else {
        print(`API key ${created.id} (${created.scopes.join(", ")}) created. Both secrets are shown only now; keep them safe:`);
        print(`  key             ${created.key}`);
        print(`  webhook secret  ${created.webhook_secret}`);
        print(`Send it as: Authorization: Bearer ${created.key}`);
      }
      break;
    }
    case "list": {
      const keys = await store.list();
      if (args.values.json) print(JSON.stringify(keys));
      else if (keys.length === 0) print("no API keys: a loopback API accepts requests without one");
      else for (const k of keys) print(row(k));
      break;
    }
    case "revoke": {
      if (rest.length !== 1) fail(`revoke takes one key id\n${USAGE}`, ExitCode.config);
      const record = await store.revoke(rest[0]!);
      if (!record) fail(`no API key with id ${rest[0]}`);
      print(`revoked: ${row(record)}`);
      break;
    }
    default:
      fail(USAGE, ExitCode.config);
  }
} finally {
  redis.disconnect();
}
