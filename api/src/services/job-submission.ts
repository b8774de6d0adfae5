import {
  ALL_JOBS,
  NotFoundError,
  NotReplicatedError,
  ValidationError,
  extensionOf,
  newJobId,
  resolveJobParams,
  type CheckedImage,
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
  /** The request's image (image-to-video models), checked by the route. */
  image?: CheckedImage,
): Promise<{ job: JobResource; created: boolean }> {
  const manifest = await ctx.models.requireInstalled(req.model).catch((err: unknown) => {
    if (err instanceof NotFoundError) throw new ValidationError(err.message, [{ field: "model", message: err.message }]);
    throw err;
  });
  const params = resolveJobParams(manifest, req, restate, image);
  await ctx.models.requireFitsMemory(req.model, manifest);
  await ctx.events.follow(req.model); // its events counted and streamed, also for a model installed after start
  const webhook = req.webhook ? await ctx.webhooks.admit(req.webhook, owner) : undefined;
  const claim = idem.key === undefined ? undefined : await ctx.idempotency.claim(owner, idem.key, idem.route, idem.body, newJobId(req.model));
  if (claim && !claim.owner) {
    const job = await ctx.jobs.getSoon(claim.jobId, ALL_JOBS);
    await ctx.jobs.confirmReplicated(job.id);
    return { job, created: false };
  }
  const jobId = claim?.jobId ?? newJobId(req.model);
  // The image's bytes stay out of Redis: kept under the job's id, the job data says where and their digest.
  const imageKey = image && `${jobId}.${extensionOf(image.type)}`;
  const data: JobData = { ...params, ...(webhook ? { webhook } : {}), ...(owner === undefined ? {} : { owner }), ...(imageKey ? { image_key: imageKey } : {}) };
  try {
    const admission = await ctx.admission.admit(req.model, owner);
    // The place is given back after the add, on the same connection: a later admission sees the job instead.
    const job = await (async () => {
      if (imageKey) await ctx.inputs.put(imageKey, image!.bytes);
      return ctx.jobs.submit(data, jobId);
    })().finally(() => void admission.release().catch(() => undefined));
    return { job, created: true };
  } catch (err) {
    // A job written but not yet on a replica exists: its key must keep leading a retry to it, and it needs its image.
    if (!(err instanceof NotReplicatedError)) {
      if (imageKey) await ctx.inputs.remove(imageKey).catch(() => undefined);
      await claim?.abandon();
    }
    throw err;
  }
}
