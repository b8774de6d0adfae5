import ort from "onnxruntime-node";
import type { LatentPreview } from "@videosdgx/shared";
import { DataType, GraphBuilder } from "../onnx/graph-builder.js";

/**
 * The manifest's latent-to-RGB projection as an ONNX graph: x0 of one latent frame [C, H, W] float32 ->
 * rgb24 [H, W, 3] uint8, `rgb = factors^T x0 + bias` in [-1, 1] mapped to 0..255 as a VAE's output is
 * ((x + 1) / 2, clamped, rounded). On ONNX Runtime's threads, not a JS loop over the pixels.
 */
function projectionGraph(preview: LatentPreview): Uint8Array {
  const channels = preview.latent_rgb_factors.length;
  const g = new GraphBuilder("latent_preview");
  const x0 = g.input("x0", DataType.FLOAT, [channels, "height", "width"]);
  // [3, C]: row j holds every channel's weight for colour j.
  const weights = Float32Array.from({ length: 3 * channels }, (_, i) => preview.latent_rgb_factors[i % channels]![Math.floor(i / channels)]!);
  const flat = g.op("Reshape", [x0, g.ints([channels, -1])]);
  const rgb = g.op("Add", [g.op("MatMul", [g.constant(weights, [3, channels]), flat]), g.constant(Float32Array.from(preview.latent_rgb_bias), [3, 1])]);
  const unit = g.op("Clip", [g.op("Add", [g.op("Mul", [rgb, g.scalar(0.5)]), g.scalar(0.5)]), g.scalar(0), g.scalar(1)]);
  const bytes = g.op("Cast", [g.op("Round", [g.op("Mul", [unit, g.scalar(255)])])], { to: { int: DataType.UINT8 } });
  const size = g.op("Concat", [g.op("Slice", [g.op("Shape", [x0]), g.ints([1]), g.ints([3])]), g.ints([3])], { axis: { int: 0 } });
  g.output(g.op("Reshape", [g.op("Transpose", [bytes], { perm: [1, 0] }), size]), "rgb", DataType.UINT8, ["height", "width", 3]);
  return g.build();
}

export interface LatentProjection {
  /** rgb24 pixels [H, W, 3] of one latent frame's x0 [C, H * W] (channel-major). */
  toRgb(x0: Float32Array, height: number, width: number): Promise<Uint8Array>;
  release(): Promise<void>;
}

export async function createLatentProjection(preview: LatentPreview): Promise<LatentProjection> {
  const channels = preview.latent_rgb_factors.length;
  // One thread: the graph is a few hundred thousand multiply-adds, and the sampler is busy meanwhile.
  const session = await ort.InferenceSession.create(projectionGraph(preview), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  return {
    async toRgb(x0, height, width) {
      if (x0.length !== channels * height * width) throw new RangeError(`x0 has ${x0.length} values, not ${channels}x${height}x${width}`);
      const out = await session.run({ x0: new ort.Tensor("float32", x0, [channels, height, width]) });
      return out.rgb!.data as Uint8Array;
    },
    release: () => session.release(),
  };
}
