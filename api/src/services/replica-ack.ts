import type { Redis } from "ioredis";
import { NotReplicatedError } from "@videosdgx/shared";

/**
 * "Acknowledged" means "on a replica": WAIT on the connection that wrote the job returns once that many
 * replicas hold every write made through it so far (replication is one ordered stream, so the
 * Idempotency-Key written before is covered too). WAIT blocks its connection, which is why submissions
 * have a connection of their own (see main.ts).
 */
export class ReplicaAck {
  constructor(
    private readonly writer: Redis,
    private readonly replicas: number,
    private readonly timeoutMs: number,
  ) {}

  get enabled(): boolean {
    return this.replicas > 0;
  }

  async confirm(jobId: string): Promise<void> {
    if (!this.enabled) return;
    const acked = await this.writer.wait(this.replicas, this.timeoutMs);
    if (acked >= this.replicas) return;
    throw new NotReplicatedError(
      `job ${jobId} is queued on the Redis primary, but ${acked} of the ${this.replicas} replica(s) required confirmed it within ` +
        `${this.timeoutMs} ms, so a failover now could lose it. Retry with the same Idempotency-Key to get this job once a replica holds it ` +
        `(without one, GET /v1/jobs/${jobId} shows whether it exists)`,
      { job_id: jobId, replicas_acknowledged: acked, replicas_required: this.replicas },
    );
  }
}
