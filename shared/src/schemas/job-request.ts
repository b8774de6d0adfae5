import { z } from "zod";
import type { RuleViolation } from "../models/constraints.js";
import { ModelNameSchema } from "../models/manifest.js";
import { WebhookRequestSchema } from "../webhooks/subscription.js";

export const SEED_MAX = 0xffffffff;

/** Fields shared by both submission routes; per-model rules are applied afterwards (resolveJobParams). */
const commonFields = (maxPromptChars: number) => ({
  prompt: z.string().trim().min(1, "must not be empty").max(maxPromptChars),
  negative_prompt: z.string().max(maxPromptChars).optional(),
  fps: z.number().int().positive().max(240).optional(),
  steps: z.number().int().positive().max(10000).optional(),
  guidance: z.number().min(0).max(100).optional(),
  seed: z.number().int().min(0).max(SEED_MAX).optional(),
  /** Sound with the video (models whose manifest says capabilities.audio; default on there). false skips the audio passes. */
  audio: z.boolean().optional(),
  /**
   * The first frame, for image-to-video models (capabilities.i2v): a JPEG, PNG or WebP as a data URL
   * ("data:image/png;base64,..."); or, in a multipart/form-data submission, a file part named `image`.
   * The routes take it out of the body and check it (api/src/http/job-form.ts) before this schema runs.
   */
  image: z.string().optional(),
  /** Where to POST the job's events (Standard Webhooks, signed); checked against private destinations at submit. */
  webhook: WebhookRequestSchema.optional(),
});

export const createJobRequestSchema = (maxPromptChars: number) =>
  z
    .strictObject({
      model: ModelNameSchema,
      ...commonFields(maxPromptChars),
      width: z.number().int().positive().max(16384).optional(),
      height: z.number().int().positive().max(16384).optional(),
      num_frames: z.number().int().positive().max(100000).optional(),
      duration_s: z.number().positive().max(3600).optional(),
    })
    .refine((r) => r.num_frames === undefined || r.duration_s === undefined, {
      message: "cannot be given together with num_frames (give one of them)",
      path: ["duration_s"],
    });
export type CreateJobRequest = z.infer<ReturnType<typeof createJobRequestSchema>>;

/** The seed documents' call: `POST /v1/models/:model/generate` with `duration` and `resolution: "WxH"`. */
export const createGenerateRequestSchema = (maxPromptChars: number) =>
  z
    .strictObject({
      ...commonFields(maxPromptChars),
      duration: z.number().positive().max(3600).optional(),
      resolution: z
        .string()
        .regex(/^\d{1,5}x\d{1,5}$/, 'must look like "1024x576"')
        .optional(),
    });
export type GenerateRequest = z.infer<ReturnType<typeof createGenerateRequestSchema>>;

/** Maps the seed route's body onto the general request, so one validation path serves both. */
export function generateToJobRequest(model: string, g: GenerateRequest): CreateJobRequest {
  const [width, height] = g.resolution ? g.resolution.split("x").map(Number) : [undefined, undefined];
  return {
    model,
    prompt: g.prompt,
    negative_prompt: g.negative_prompt,
    fps: g.fps,
    steps: g.steps,
    guidance: g.guidance,
    seed: g.seed,
    audio: g.audio,
    webhook: g.webhook,
    width,
    height,
    duration_s: g.duration,
  };
}

/**
 * The model's verdict on a seed-route request in that request's terms: width and height become one
 * `resolution` violation (with the nearest valid "WxH"), duration_s becomes `duration`.
 */
export function inGenerateTerms(g: GenerateRequest, violations: RuleViolation[]): RuleViolation[] {
  const [width, height] = (g.resolution ?? "x").split("x").map(Number) as [number, number];
  const dims = violations.filter((v) => v.field === "width" || v.field === "height");
  const rest = violations
    .filter((v) => !dims.includes(v))
    .map((v) => (v.field === "duration_s" ? { ...v, field: "duration", message: v.message.replace(/^duration_s\b/, "duration") } : v));
  if (dims.length === 0) return rest;
  const nearestOf = (field: string, asked: number) => dims.find((v) => v.field === field)?.nearest ?? [asked];
  const nearest = nearestOf("width", width).flatMap((w) => nearestOf("height", height).map((h) => `${w}x${h}`));
  const resolution: RuleViolation = {
    field: "resolution",
    message: `resolution ${g.resolution} is not valid: ${dims.map((v) => v.message).join(" and ")} (nearest valid: ${nearest.join(" or ")})`,
    rule: dims.map((v) => `${v.field}: ${v.rule}`).join("; "),
    nearest,
  };
  return [resolution, ...rest];
}

export const ListJobsQuerySchema = z.strictObject({
  model: ModelNameSchema.optional(),
  status: z.enum(["queued", "running", "completed", "failed", "cancelled"]).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  /** Paging: only jobs older than this job (the previous page's `next_before`). */
  before: z.string().min(1).max(200).optional(),
});
