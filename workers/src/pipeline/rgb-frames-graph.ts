import ort from "onnxruntime-node";
import { DataType, GraphBuilder } from "../onnx/graph-builder.js";

/**
 * videoToRgb as an ONNX graph, for videos handed over while they are made (magi's chunks): the same
 * arithmetic in float32 ((x / 2 + 0.5) clamped to [0, 1], times 255, rounded half to even: ONNX Round is
 * numpy's), so the same bytes, but on ONNX Runtime's threads instead of one JS loop.
 * [1, 3, F, H, W] float32 -> [F, H, W, 3] uint8.
 */
function rgbGraph(): Uint8Array {
  const g = new GraphBuilder("video_to_rgb");
  const video = g.input("video", DataType.FLOAT, [1, 3, "frames", "height", "width"]);
  const unit = g.op("Clip", [g.op("Add", [g.op("Mul", [video, g.scalar(0.5)]), g.scalar(0.5)]), g.scalar(0), g.scalar(1)]);
  const levels = g.op("Round", [g.op("Mul", [unit, g.scalar(255)])]);
  // Cast first: the transpose then moves bytes, not floats.
  const bytes = g.op("Cast", [g.op("Squeeze", [levels, g.ints([0])])], { to: { int: DataType.UINT8 } });
  g.output(g.op("Transpose", [bytes], { perm: [1, 2, 3, 0] }), "rgb", DataType.UINT8, ["frames", "height", "width", 3]);
  return g.build();
}

export interface RgbConverter {
  toRgb(video: ort.Tensor): Promise<Uint8Array>;
  release(): Promise<void>;
}

export async function createRgbConverter(options: ort.InferenceSession.SessionOptions = {}): Promise<RgbConverter> {
  const session = await ort.InferenceSession.create(rgbGraph(), options);
  return {
    async toRgb(video) {
      const out = await session.run({ video });
      return out.rgb!.data as Uint8Array;
    },
    release: () => session.release(),
  };
}
