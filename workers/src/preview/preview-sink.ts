/** Where a family's denoising loop hands x0 estimates for previews (absent when previews are off). */
export interface PreviewSink {
  /** Whether step `step` (1-based, as progress counts) gets a preview: every PREVIEW_EVERY_STEPS steps. */
  wants(step: number): boolean;
  /** The x0 estimate of the previewed latent frame after `step`, channel-major [C, H * W]; kept, not copied. */
  offer(step: number, x0: Float32Array): void;
}
