import { MANIFEST_FILE, type LatentPreview, type Manifest } from "@videosdgx/shared";
import { PreviewJpegs, type PixelSize } from "../video/preview-jpegs.js";
import { createLatentProjection, type LatentProjection } from "./projection-graph.js";
import type { PreviewSink } from "./preview-sink.js";

export interface PreviewSettings {
  projection: LatentPreview;
  everySteps: number;
  /** The latent frame's size in cells. */
  latent: PixelSize;
  /** Where the latest preview goes (OUTPUTS_DIR/<id>.preview.jpg). */
  file: string;
  /** A preview of `step` is at `file`: tell the job's watchers. */
  published(step: number): Promise<void>;
  /** Previews stopped (the encoder failed): the job goes on without them. */
  failed(err: Error): void;
}

/**
 * A job's previews, made beside its sampling: an offer only records the latest x0 frame, and one
 * preview at a time is projected, encoded and published while the loop goes on. Offers arriving while
 * one is made replace each other, so previews never queue up behind a fast sampler, and the newest
 * (the last step's included) is always made before `close` returns.
 */
export class Previewer implements PreviewSink {
  private pending: { step: number; x0: Float32Array } | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly settings: PreviewSettings,
    private readonly projection: LatentProjection,
    private readonly jpegs: PreviewJpegs,
  ) {}

  static async create(settings: PreviewSettings): Promise<Previewer> {
    const jpegs = new PreviewJpegs(settings.latent, settings.file);
    jpegs.warm(); // ffmpeg starts before sampling, not at the first preview
    return new Previewer(settings, await createLatentProjection(settings.projection), jpegs);
  }

  wants(step: number): boolean {
    return !this.stopped && step % this.settings.everySteps === 0;
  }

  offer(step: number, x0: Float32Array): void {
    if (this.stopped) return;
    this.pending = { step, x0 };
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  private async drain(): Promise<void> {
    const { latent } = this.settings;
    try {
      for (let next = this.pending; next; next = this.pending) {
        this.pending = undefined;
        await this.jpegs.write(await this.projection.toRgb(next.x0, latent.height, latent.width));
        await this.settings.published(next.step);
      }
    } catch (err) {
      this.stopped = true;
      this.pending = undefined;
      this.settings.failed(err as Error);
    }
  }

  /** Makes the pending preview, then releases the projection (once, however often called); the encoder stays for the next job. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.running;
      this.stopped = true;
      await this.projection.release();
    })();
    return this.closed;
  }
}

/** What a worker's start-up line says about previews for its model. */
export function previewsState(everySteps: number, manifest: Manifest): string {
  if (everySteps === 0) return "off (PREVIEW_EVERY_STEPS=0)";
  if (!manifest.preview) return `none: the model's ${MANIFEST_FILE} has no preview projection (latent_rgb_factors)`;
  return `every ${everySteps} steps`;
}
