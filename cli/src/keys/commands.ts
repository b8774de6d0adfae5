import type { Command } from "commander";
import { ApiKeyStore, CliExitCode, SCOPES, describeRedisTarget, parseScopes, platformRedisTarget, type ApiKeyRecord, type Config } from "@videosdgx/shared";
import { CliError, usageError } from "../cli-error.js";
import { print, printJson, runCommand } from "../output.js";
import { connectRedis } from "../redis-connection.js";

/**
 * The key store in the platform's Redis (REDIS_URL or REDIS_SENTINELS, or the one `npm start` runs on OWN_REDIS_PORT). Keys
 * are made here rather than over HTTP because the first key must exist before an API on a non-loopback
 * HOST agrees to start.
 */
async function withKeyStore<T>(config: Config, use: (store: ApiKeyStore) => Promise<T>): Promise<T> {
  const target = platformRedisTarget(config);
  const url = describeRedisTarget(target);
  const conn = await connectRedis(target);
  if ("error" in conn) {
    throw new CliError("redis_unreachable", `cannot reach Redis at ${url} (${conn.error}): start the platform (npm start) or set REDIS_URL / REDIS_SENTINELS`, CliExitCode.network);
  }
  try {
    return await use(new ApiKeyStore(conn.redis, config.QUEUE_PREFIX));
  } finally {
    conn.redis.disconnect();
  }
}

const row = (k: ApiKeyRecord) =>
  [k.id, k.revoked_at ? `revoked ${k.revoked_at}` : "active", k.scopes.join(","), k.created_at, k.last_used_at ?? "never used", k.name].join("  ");

/** `keys create|list|revoke` (also `npm run keys -- ...`). */
export function registerKeyCommands(program: Command, config: () => Config): void {
  const keys = program.command("keys").description("API keys in the platform's Redis: create, list, revoke (REDIS_URL, REDIS_SENTINELS or npm start's own Redis)");

  keys
    .command("create")
    .description("a new key with its webhook signing secret, both shown only now")
    .requiredOption("--scope <scopes>", `comma-separated: ${SCOPES.join(", ")}`)
    .option("--name <label>", "a label to tell keys apart", "")
    .option("--json", "print the key record as JSON")
    .action((opts: { scope: string; name: string; json?: boolean }) =>
      runCommand(!!opts.json, async () => {
        const scopes = (() => {
          try {
            return parseScopes(opts.scope);
          } catch (err) {
            throw usageError((err as Error).message);
          }
        })();
        const created = await withKeyStore(config(), (store) => store.create(scopes, opts.name));
        if (opts.json) return printJson(created);
        print(`API key ${created.id} (${created.scopes.join(", ")}) created. Both secrets are shown only now; keep them safe:`);
        print(`  key             ${created.key}`);
        print(`  webhook secret  ${created.webhook_secret}`);
        print(`Send it as: Authorization: Bearer ${created.key} (or videosdgx --key, VIDEOSDGX_API_KEY)`);
      }),
    );

  keys
    .command("list")
    .description("id, active or revoked, scopes, created, last used, name (never the key)")
    .option("--json", "print the records as JSON")
    .action((opts: { json?: boolean }) =>
      runCommand(!!opts.json, async () => {
        const list = await withKeyStore(config(), (store) => store.list());
        if (opts.json) return printJson(list);
        if (list.length === 0) print("no API keys: a loopback API accepts requests without one");
        for (const k of list) print(row(k));
      }),
    );

  keys
    .command("revoke <id>")
    .description("revoke a key; every API process refuses it at once")
    .option("--json", "print the revoked record as JSON")
    .action((id: string, opts: { json?: boolean }) =>
      runCommand(!!opts.json, async () => {
        const record = await withKeyStore(config(), (store) => store.revoke(id));
        if (!record) throw new CliError("no_such_key", `no API key with id ${id}`, CliExitCode.notFound);
        if (opts.json) return printJson(record);
        print(`revoked: ${row(record)}`);
      }),
    );
}
