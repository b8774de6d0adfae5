import { randomInt } from "node:crypto";
import { ValidationError } from "../errors.js";
import type { CreateJobRequest } from "../schemas/job-request.js";
import { SEED_MAX } from "../schemas/job-request.js";
import type { EffectiveParams } from "../contracts/generate-queue.js";
import { defaultNegativePrompt } from "./families/registry.js";
import type { FrameRule, Manifest } from "./manifest.js";
import type { CheckedImage } from "../images/image-input.js";

export interface RuleViolation {
  field: string;
  message: string;
  rule: string;
  /** The valid values closest to the one asked for (for a resolution, "WxH" strings). */
  nearest: (number | string)[];
}

/** Puts violations in the caller's own terms (the seed route says resolution and duration). */
export type RestateViolations = (violations: RuleViolation[]) => RuleViolation[];

export function describeFrameRule(r: FrameRule): string {
  const form = r.step === 1 ? "any number of" : r.offset ? `${r.step}k+${r.offset}` : `a multiple of ${r.step}`;
  return `${form} frames, ${r.min} to ${r.max}`;
}

/** Smallest and largest frame counts that satisfy the rule and the bounds. */
export function frameBounds(r: FrameRule): [number, number] {
  const lo = r.offset + r.step * Math.max(0, Math.ceil((r.min - r.offset) / r.step));
  const hi = r.offset + r.step * Math.floor((r.max - r.offset) / r.step);
  return [lo, hi];
}

/** The valid frame counts closest to n: one value when n rounds cleanly, otherwise the two neighbours. */
export function nearestFrames(r: FrameRule, n: number): number[] {
  const [lo, hi] = frameBounds(r);
  if (n <= lo) return [lo];
  if (n >= hi) return [hi];
  const below = r.offset + r.step * Math.floor((n - r.offset) / r.step);
  return below === n ? [n] : [below, below + r.step];
}

/** A duration becomes the valid frame count nearest to duration * fps (ties go to the longer video). */
export function framesForDuration(r: FrameRule, durationS: number, fps: number): number {
  const target = durationS * fps;
  const candidates = nearestFrames(r, Math.round(target));
  return candidates.reduce((best, c) => (Math.abs(c - target) <= Math.abs(best - target) ? c : best));
}

function nearestMultiples(value: number, multiple: number, min: number, max: number): number[] {
  const lo = Math.ceil(min / multiple) * multiple;
  const hi = Math.floor(max / multiple) * multiple;
  if (value <= lo) return [lo];
  if (value >= hi) return [hi];
  const below = Math.floor(value / multiple) * multiple;
  return below === value ? [value] : [below, below + multiple];
}

function checkRange(field: string, value: number, range: { min: number; max: number }, out: RuleViolation[]): void {
  if (value < range.min || value > range.max) {
    out.push({
      field,
      message: `${field} must be between ${range.min} and ${range.max}`,
      rule: `${range.min} <= ${field} <= ${range.max}`,
      nearest: [Math.min(range.max, Math.max(range.min, value))],
    });
  }
}

/**
 * Applies a model's rules to a request: defaults filled, every violation reported at once with the rule
 * and the nearest valid values, a seed chosen when none was given (so every video can be reproduced), and
 * the manifest's (or its family's) negative prompt when none was given.
 */
export function resolveJobParams(
  manifest: Manifest,
  req: CreateJobRequest,
  restate: RestateViolations = (v) => v,
  /** The request's image, already checked (checkImage): its bytes are not the rules' business, only that it is there. */
  image?: Pick<CheckedImage, "sha256" | "type" | "width" | "height">,
): EffectiveParams {
  const c = manifest.constraints;
  const violations: RuleViolation[] = [];
  const res = c.resolution;
  const width = req.width ?? res.default_width;
  const height = req.height ?? res.default_height;
  for (const [field, value, min, max] of [
    ["width", width, res.min_width, res.max_width],
    ["height", height, res.min_height, res.max_height],
  ] as const) {
    if (value % res.multiple !== 0 || value < min || value > max) {
      violations.push({
        field,
        message: `${field} must be a multiple of ${res.multiple} between ${min} and ${max}`,
        rule: `multiple of ${res.multiple}, ${min} to ${max}`,
        nearest: nearestMultiples(value, res.multiple, min, max),
      });
    }
  }

  const fps = req.fps ?? c.fps.default;
  checkRange("fps", fps, c.fps, violations);
  const steps = req.steps ?? c.steps.default;
  checkRange("steps", steps, c.steps, violations);
  const stepsMultiple = manifest.sampling?.steps_multiple;
  if (stepsMultiple !== undefined && steps % stepsMultiple !== 0) {
    violations.push({
      field: "steps",
      message: `steps must be a multiple of ${stepsMultiple} between ${c.steps.min} and ${c.steps.max}`,
      rule: `multiple of ${stepsMultiple}, ${c.steps.min} to ${c.steps.max}`,
      nearest: nearestMultiples(steps, stepsMultiple, c.steps.min, c.steps.max),
    });
  }
  const guidance = req.guidance ?? c.guidance.default;
  checkRange("guidance", guidance, c.guidance, violations);

  const rule = c.frames;
  let numFrames: number;
  if (req.num_frames !== undefined) {
    numFrames = req.num_frames;
    const nearest = nearestFrames(rule, numFrames);
    if (nearest.length !== 1 || nearest[0] !== numFrames) {
      violations.push({
        field: "num_frames",
        message: `num_frames must be ${describeFrameRule(rule)}`,
        rule: describeFrameRule(rule),
        nearest,
      });
    }
  } else if (req.duration_s !== undefined) {
    numFrames = framesForDuration(rule, req.duration_s, fps);
    const [lo, hi] = frameBounds(rule);
    const asked = req.duration_s * fps;
    // Rounding to the rule is expected; a request far outside the model's length range is an error.
    if (asked < lo - rule.step || asked > hi + rule.step) {
      violations.push({
        field: "duration_s",
        message: `duration_s at ${fps} fps must give ${describeFrameRule(rule)} (${(lo / fps).toFixed(2)} to ${(hi / fps).toFixed(2)} s)`,
        rule: describeFrameRule(rule),
        nearest: [Number((numFrames / fps).toFixed(3))],
      });
    }
  } else {
    numFrames = rule.default;
  }

  // A model without sound cannot honour a request for it; asking for none is always fine.
  if (req.audio === true && !manifest.capabilities.audio) {
    violations.push({
      field: "audio",
      message: `audio cannot be requested: model ${req.model} makes no sound (capabilities.audio is false)`,
      rule: "audio only for models with capabilities.audio",
      nearest: [],
    });
  }

  // Image to video needs its image; a model that cannot take one is told so rather than ignoring it.
  if (image !== undefined && !manifest.capabilities.i2v) {
    violations.push({
      field: "image",
      message: `image cannot be given: model ${req.model} makes video from text only (capabilities.i2v is false)`,
      rule: "image only for models with capabilities.i2v",
      nearest: [],
    });
  } else if (image === undefined && manifest.capabilities.i2v) {
    violations.push({
      field: "image",
      message: `image is required: model ${req.model} makes video from an image (a data URL, or a multipart file part named image)`,
      rule: "models with capabilities.i2v need an image",
      nearest: [],
    });
  }

  if (violations.length > 0) {
    const stated = restate(violations);
    const summary = stated.map((v) => v.message).join("; ");
    throw new ValidationError(`the request does not fit model ${req.model}: ${summary}`, stated, "invalid_parameters");
  }
  return {
    model: req.model,
    prompt: req.prompt,
    negative_prompt: req.negative_prompt ?? defaultNegativePrompt(manifest),
    width,
    height,
    num_frames: numFrames,
    fps,
    duration_s: Number((numFrames / fps).toFixed(6)),
    steps,
    guidance,
    seed: req.seed ?? randomInt(0, SEED_MAX),
    ...(manifest.capabilities.audio ? { audio: req.audio ?? true } : {}),
    ...(image ? { image: { sha256: image.sha256, media_type: image.type, width: image.width, height: image.height } } : {}),
  };
}
