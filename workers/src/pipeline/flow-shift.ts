import type { Manifest } from "@videosdgx/shared";
import type { SchedulerConfig } from "./scheduler-config.js";

/**
 * The scheduler config a job of this size samples with: the manifest's flow_shift for exactly that size
 * replaces the config's own (diffusers' Wan example: `UniPCMultistepScheduler.from_config(config,
 * flow_shift=3.0)` for 480p, 5.0 for 720p); any other size keeps the folder's config.
 */
export function schedulerForSize(config: SchedulerConfig, manifest: Manifest, width: number, height: number): SchedulerConfig {
  const shift = manifest.sampling?.flow_shift_by_size?.[`${width}x${height}`];
  if (shift === undefined) return config;
  if (config._class_name === "UniPCMultistepScheduler") return { ...config, flow_shift: shift };
  // Euler's static shift is the same sigma map; a dynamically shifted schedule has no single shift to replace.
  if (config.use_dynamic_shifting) {
    throw new Error("videosdgx.json sampling.flow_shift_by_size cannot apply to a scheduler with use_dynamic_shifting");
  }
  return { ...config, shift };
}
