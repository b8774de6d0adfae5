import {
  ALL_JOBS,
  NotFoundError,
  ValidationError,
  newJobId,
  resolveJobParams,
  type CreateJobRequest,
  type JobData,
  type JobResource,
  type RestateViolations,
} from "@videosdgx/shared";
import type { AppContext } from "../context.js";

export interface IdempotentRequest {
  key: string | undefined;
  /** Which route the body was sent to: the same body on another route is another request. */
  route: string;
  body: unknown;
}

/**
 * Validates against the model's own rules, admits (rate limit, queue cap) and enqueues: shared by both
 * submission routes. With an Idempotency-Key, a repeat returns the job the first request created
 * (`created: false`) without spending the rate limit; keys are per caller, never shared between API keys.
 */
export async function submitJob(
  ctx: AppContext,
  req: CreateJobRequest,
  idem: IdempotentRequest,
  /** The submitting API key's id; undefined for an anonymous caller. */
  owner: string | undefined,
  /** How the route's caller named the fields the model's rules apply to. */
  restate?: RestateViolations,
): Promise<{ job: JobResource; created: boolean }> {
  const manifest = await ctx.models.requireInstalled(req.model).catch((err: unknown) => {
    if (err instanceof NotFoundError) throw new ValidationError(err.message, [{ field: "model", message: err.message }]);
    throw err;
  });
  const params = resolveJobParams(manifest, req, restate);
  await ctx.models.requireFitsMemory(req.model, manifest);
  const webhook = req.webhook ? await ctx.webhooks.admit(req.webhook, owner) : undefined;
  const data: JobData = { ...params, ...(webhook ? { webhook } : {}), ...(owner === undefined ? {} : { owner }) };
  const claim = idem.key === undefined ? undefined : await ctx.idempotency.claim(owner, idem.key, idem.route, idem.body, newJobId(req.model));
  if (claim && !claim.owner) return { job: await ctx.jobs.getSoon(claim.jobId, ALL_JOBS), created: false };
  try {
    const admission = await ctx.admission.admit(req.model, owner);
    // The place is given back after the add, on the same connection: a later admission sees the job instead.
    const job = await ctx.jobs.submit(data, claim?.jobId).finally(() => void admission.release().catch(() => undefined));
    return { job, created: true };
  } catch (err) {
    await claim?.abandon();
    throw err;
  }
}
