import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { TooManyRequestsError } from "../errors.js";
import { luaScript } from "../memory/lua-scripts.js";
import { BullLayout } from "../bullmq/layout.js";
import { queueName } from "../contracts/generate-queue.js";
import { redisKeys, type RedisKeys } from "../queues.js";

export interface AdmissionLimits {
  /** Jobs not started per model (0 = no cap). */
  maxQueuedPerModel: number;
  /** Submissions per minute per key (0 = no rate limit). */
  perMinute: number;
  /** Submissions a key may send at once. */
  burst: number;
}

/** How long a place held for a submission lasts if the API dies before adding the job. */
const ADMISSION_LIFETIME_MS = 30000;
/** When a queue is full, nothing predicts when a place frees up: ask clients to come back after this. */
const QUEUE_FULL_RETRY_AFTER_S = 5;

/** Holds a place in the model's queue until `release()`, called once the job is added (or not). */
export interface Admission {
  release(): Promise<void>;
}

const NOTHING_HELD: Admission = { release: async () => undefined };

type AdmitRedis = Redis & { admitJob(...args: (string | number)[]): Promise<[number, number]> };

/**
 * The per-key rate limit and the per-model cap on waiting jobs, checked in one Lua script
 * (shared/lua/admit-job.lua): one round trip per submission, exact under concurrency.
 */
export class SubmissionGate {
  private readonly redis: AdmitRedis;
  private readonly keys: RedisKeys;
  private readonly bull: BullLayout;

  constructor(
    redis: Redis,
    prefix: string,
    private readonly limits: AdmissionLimits,
    private readonly lifetimeMs = ADMISSION_LIFETIME_MS,
  ) {
    if (!("admitJob" in redis)) redis.defineCommand("admitJob", { numberOfKeys: 6, lua: luaScript("admit-job") });
    this.redis = redis as AdmitRedis;
    this.keys = redisKeys(prefix);
    this.bull = new BullLayout(prefix);
  }

  /**
   * Admits a submission for `model` by `principal` (an API key id; undefined: not rate limited, for
   * anonymous loopback use). Throws a TooManyRequestsError with the seconds to wait.
   */
  async admit(model: string, principal: string | undefined): Promise<Admission> {
    const cap = this.limits.maxQueuedPerModel;
    const perMinute = this.perMinuteFor(principal);
    if (cap === 0 && perMinute === 0) return NOTHING_HELD;
    const queue = queueName(model);
    const lists = this.bull.notStarted(queue);
    const admissions = this.keys.admissions(queue);
    const token = randomUUID();
    const [verdict, value] = await this.redis.admitJob(
      admissions, lists.wait, lists.paused, lists.prioritized, lists.delayed, this.keys.rateLimit(principal ?? "anonymous"),
      token, this.lifetimeMs, cap, perMinute, this.limits.burst, this.keys.cancel(""),
    );
    if (verdict === 1) throw this.rateLimited(value);
    if (verdict === 2) {
      throw new TooManyRequestsError(
        "queue_full",
        `model ${model} already has ${value} jobs waiting (at most ${cap}); retry later`,
        QUEUE_FULL_RETRY_AFTER_S,
        { model, queued: value, max_queued: cap },
      );
    }
    if (cap === 0) return NOTHING_HELD;
    return { release: async () => void (await this.redis.zrem(admissions, token)) };
  }

  /**
   * Spends a token of `principal`'s submission bucket for work that is not a new job but costs like one
   * (a webhook redelivery): the same script with no queue cap, so its queue keys are never read.
   */
  async spend(principal: string | undefined): Promise<void> {
    const perMinute = this.perMinuteFor(principal);
    if (perMinute === 0) return;
    const bucket = this.keys.rateLimit(principal ?? "anonymous");
    const [verdict, value] = await this.redis.admitJob(bucket, bucket, bucket, bucket, bucket, bucket, "", this.lifetimeMs, 0, perMinute, this.limits.burst, "");
    if (verdict === 1) throw this.rateLimited(value);
  }

  /** Anonymous loopback use is not rate limited. */
  private perMinuteFor(principal: string | undefined): number {
    return principal === undefined ? 0 : this.limits.perMinute;
  }

  private rateLimited(waitMs: number): TooManyRequestsError {
    return new TooManyRequestsError(
      "rate_limited",
      `this key may submit ${this.limits.perMinute} jobs per minute (bursts of ${this.limits.burst}); retry later`,
      Math.max(1, Math.ceil(waitMs / 1000)),
      { per_minute: this.limits.perMinute, burst: this.limits.burst },
    );
  }
}
