import { z } from "zod";
import { flowMatchConfigSchema } from "./flow-match-config.js";
import { uniPCConfigSchema } from "./unipc-config.js";

/** The scheduler classes we sample with, by diffusers' `_class_name`. */
const SCHEMAS = {
  FlowMatchEulerDiscreteScheduler: flowMatchConfigSchema,
  UniPCMultistepScheduler: uniPCConfigSchema,
} as const;

export type SchedulerConfig = z.output<(typeof SCHEMAS)[keyof typeof SCHEMAS]>;

/**
 * Validates a diffusers `scheduler_config.json` against the class its `_class_name` names, filling
 * diffusers' defaults. An unknown class or an option we do not implement throws, naming the field.
 */
export function parseSchedulerConfig(raw: unknown): SchedulerConfig {
  const fail = (why: string): never => {
    throw new Error(`invalid scheduler_config.json:\n${why}`);
  };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return fail("✖ expected a JSON object");
  const className = (raw as { _class_name?: unknown })._class_name ?? "FlowMatchEulerDiscreteScheduler";
  if (typeof className !== "string" || !Object.hasOwn(SCHEMAS, className)) {
    return fail(
      `✖ _class_name ${JSON.stringify(className)} is not supported: expected one of ${Object.keys(SCHEMAS).join(", ")}\n  → at _class_name`,
    );
  }
  const result = SCHEMAS[className as keyof typeof SCHEMAS].safeParse(raw);
  if (!result.success) return fail(z.prettifyError(result.error));
  return result.data;
}
