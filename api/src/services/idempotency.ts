import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { ServiceUnavailableError, UnprocessableError, ValidationError, redisKeys, type Config } from "@videosdgx/shared";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** JSON with sorted keys, so the same request written in another key order is the same request. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export type Claim = { owner: true; jobId: string; abandon: () => Promise<void> } | { owner: false; jobId: string };

/**
 * Idempotency-Key handling: the first request with a key claims it atomically (SET NX) for a job id chosen
 * up front, so concurrent repeats learn the id at once and never create a second job. Keys belong to the
 * API key that sent them: the same Idempotency-Key from two API keys is two requests.
 */
export class IdempotencyKeys {
  private readonly keys;
  constructor(private readonly config: Config, private readonly redis: Redis) {
    this.keys = redisKeys(config.QUEUE_PREFIX);
  }

  static parseHeader(value: string | undefined): string | undefined {
    if (value === undefined) return undefined;
    if (!/^[\x21-\x7e]{1,255}$/.test(value)) {
      throw new ValidationError("Idempotency-Key must be 1 to 255 visible ASCII characters", [{ field: "Idempotency-Key", message: "invalid" }]);
    }
    return value;
  }

  async claim(apiKeyId: string | undefined, key: string, route: string, body: unknown, newJobId: string): Promise<Claim> {
    const redisKey = this.keys.idempotency(sha256(`${apiKeyId ?? ""}\n${key}`));
    const fingerprint = sha256(`${route}\n${canonical(body)}`);
    const record = JSON.stringify({ fingerprint, job_id: newJobId });
    let stored: string | null = null;
    // Two rounds: the key may expire between a failed SET NX and the GET.
    for (let round = 0; round < 2 && stored === null; round++) {
      const ok = await this.redis.set(redisKey, record, "EX", this.config.IDEMPOTENCY_TTL_SECONDS, "NX");
      if (ok === "OK") return { owner: true, jobId: newJobId, abandon: async () => void (await this.redis.del(redisKey)) };
      stored = await this.redis.get(redisKey);
    }
    if (stored === null) throw new ServiceUnavailableError("could not claim the Idempotency-Key; try again");
    const existing = JSON.parse(stored) as { fingerprint: string; job_id: string };
    if (existing.fingerprint !== fingerprint) {
      throw new UnprocessableError(
        "this Idempotency-Key was already used with a different request; use a new key for a new request",
        { job_id: existing.job_id },
        "idempotency_key_reused",
      );
    }
    return { owner: false, jobId: existing.job_id };
  }
}
