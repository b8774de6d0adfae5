import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { ApiKeyRecord, ApiKeyStore, Logger } from "@videosdgx/shared";

/** Bound on cached lookups (unknown keys included): past it the cache starts over rather than grow. */
const MAX_ENTRIES = 10000;

interface Cached<T> {
  until: number;
  value: Promise<T>;
}

/**
 * Key lookups cached in process, so an authenticated request costs no Redis round trip. Every creation
 * or revocation is published (ApiKeyStore) and drops the whole cache at once; the TTL only bounds
 * staleness should a message be lost, and a reconnect of the subscriber also drops everything.
 */
export class KeyLookups {
  private readonly entries = new Map<string, Cached<unknown>>();

  constructor(private readonly store: ApiKeyStore, private readonly ttlMs: number, private readonly log: Logger) {}

  /** Subscribes to key changes on its own connection (a subscribed connection can do nothing else). */
  async listen(subscriber: Redis, channel: string): Promise<void> {
    subscriber.on("message", () => this.invalidate());
    subscriber.on("ready", () => this.invalidate());
    await subscriber.subscribe(channel);
  }

  invalidate(): void {
    this.entries.clear();
  }

  private remember<T>(name: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(name) as Cached<T> | undefined;
    if (hit && hit.until > Date.now()) return hit.value;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    const fresh: Cached<T> = { until: Date.now() + this.ttlMs, value: load() };
    this.entries.set(name, fresh);
    // A failed lookup (Redis away) is not remembered.
    fresh.value.catch(() => this.entries.get(name) === fresh && this.entries.delete(name));
    return fresh.value;
  }

  /** The record of a presented key (revoked or not), or undefined. Cached by the key's hash, never the key. */
  verify(presented: string): Promise<ApiKeyRecord | undefined> {
    return this.remember(`key:${createHash("sha256").update(presented).digest("base64")}`, () => this.load(presented));
  }

  private async load(presented: string): Promise<ApiKeyRecord | undefined> {
    const record = await this.store.verify(presented);
    if (record && !record.revoked_at) {
      this.store.touch(record.id).catch((err: unknown) => this.log.warn("cannot record key use", { key_id: record.id, error: String(err) }));
    }
    return record;
  }

  /** Whether a key was ever created: until then a loopback HOST accepts anonymous requests. */
  anyCreated(): Promise<boolean> {
    return this.remember("any-created", () => this.store.anyCreated());
  }
}
