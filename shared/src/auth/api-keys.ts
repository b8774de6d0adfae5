import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";
import { newWebhookSecret } from "../webhooks/signature.js";
import { redisKeys, type RedisKeys } from "../queues.js";
import { ScopeSchema, type Scope } from "./access.js";

/** `vdgx_<12 hex id>_<43 base64url chars: 32 random bytes>`: the id finds the record, the rest is the secret. */
const KEY_SHAPE = /^vdgx_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string): Buffer => createHash("sha256").update(s).digest();
/** Compared against when the id is unknown, so an unknown id costs the same work as a wrong secret. */
const NO_HASH = sha256("no such key");

export const ApiKeyRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(ScopeSchema),
  created_at: z.string(),
  revoked_at: z.string().optional(),
  /** Updated at most once per cache lifetime of the key in an API process, so approximate. */
  last_used_at: z.string().optional(),
});
export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;

/** What creation returns: the only time the key and its webhook signing secret are shown. */
export const CreatedApiKeySchema = ApiKeyRecordSchema.extend({ key: z.string(), webhook_secret: z.string() });
export type CreatedApiKey = z.infer<typeof CreatedApiKeySchema>;

export const CreateApiKeyRequestSchema = z.strictObject({
  scopes: z.array(ScopeSchema).min(1),
  name: z.string().max(200).optional(),
});

const iso = (ms: string | undefined) => (ms ? new Date(Number(ms)).toISOString() : undefined);

function toRecord(f: Record<string, string>): ApiKeyRecord {
  return {
    id: f.id!,
    name: f.name ?? "",
    scopes: (f.scopes ?? "").split(",").filter((s) => ScopeSchema.safeParse(s).success) as Scope[],
    created_at: iso(f.created_at)!,
    ...(f.revoked_at ? { revoked_at: iso(f.revoked_at) } : {}),
    ...(f.last_used_at ? { last_used_at: iso(f.last_used_at) } : {}),
  };
}

/**
 * API keys in Redis: one hash per key holding the SHA-256 of the key (never the key itself), its scopes
 * and its webhook signing secret. Used by the API (lookups), the keys CLI and the webhook signer.
 */
export class ApiKeyStore {
  private readonly keys: RedisKeys;

  constructor(private readonly redis: Redis, prefix: string) {
    this.keys = redisKeys(prefix);
  }

  /** The id part of a well-formed key; undefined for anything else (no Redis lookup needed). */
  static idOf(presented: string): string | undefined {
    return KEY_SHAPE.exec(presented)?.[1];
  }

  async create(scopeList: Scope[], name = ""): Promise<CreatedApiKey> {
    const scopes = [...new Set(scopeList)];
    const id = randomBytes(6).toString("hex");
    const key = `vdgx_${id}_${randomBytes(32).toString("base64url")}`;
    const webhookSecret = newWebhookSecret();
    const now = Date.now();
    await this.redis
      .multi()
      .hset(this.keys.apiKey(id), {
        id, name, scopes: scopes.join(","), hash: sha256(key).toString("hex"), webhook_secret: webhookSecret, created_at: now,
      })
      .zadd(this.keys.apiKeys, now, id)
      .sadd(this.keys.activeApiKeys, id)
      .publish(this.keys.apiKeyEvents, id)
      .exec();
    return { id, name, scopes, created_at: new Date(now).toISOString(), key, webhook_secret: webhookSecret };
  }

  /**
   * The record of the key presented, revoked or not; undefined when no key matches. The stored hash is
   * compared in constant time, against a stand-in when the id is unknown.
   */
  async verify(presented: string): Promise<ApiKeyRecord | undefined> {
    const id = ApiKeyStore.idOf(presented);
    if (!id) return undefined;
    const fields = await this.redis.hgetall(this.keys.apiKey(id));
    const stored = fields.hash ? Buffer.from(fields.hash, "hex") : NO_HASH;
    const equal = timingSafeEqual(sha256(presented), stored.length === NO_HASH.length ? stored : NO_HASH);
    return equal && fields.hash ? toRecord(fields) : undefined;
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const fields = await this.redis.hgetall(this.keys.apiKey(id));
    return fields.id ? toRecord(fields) : undefined;
  }

  /** Every key, oldest first, revoked ones included (never the key or its secrets). */
  async list(): Promise<ApiKeyRecord[]> {
    const ids = await this.redis.zrange(this.keys.apiKeys, 0, -1);
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.apiKey(id));
    const rows = (await pipeline.exec()) ?? [];
    return rows.map(([, f]) => f as Record<string, string>).filter((f) => f.id).map(toRecord);
  }

  /** Revokes a key for good (kept for the record); undefined when no such key exists. */
  async revoke(id: string): Promise<ApiKeyRecord | undefined> {
    const key = this.keys.apiKey(id);
    if (!(await this.redis.exists(key))) return undefined;
    await this.redis
      .multi()
      .hsetnx(key, "revoked_at", Date.now())
      .srem(this.keys.activeApiKeys, id)
      .publish(this.keys.apiKeyEvents, id)
      .exec();
    return this.get(id);
  }

  /**
   * Whether any key was ever created. Keys are never deleted (a revoked one stays for the record), so
   * their list is the marker: once true, it stays true.
   */
  async anyCreated(): Promise<boolean> {
    return (await this.redis.zcard(this.keys.apiKeys)) > 0;
  }

  /** Keys not revoked. */
  activeCount(): Promise<number> {
    return this.redis.scard(this.keys.activeApiKeys);
  }

  /** The secret that signs webhooks of jobs submitted with this key (also after the key is revoked). */
  async webhookSecret(keyId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.apiKey(keyId), "webhook_secret")) ?? undefined;
  }

  async touch(id: string): Promise<void> {
    await this.redis.hset(this.keys.apiKey(id), "last_used_at", Date.now());
  }
}
