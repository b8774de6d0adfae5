import ort from "onnxruntime-node";
import { DataType, GraphBuilder } from "../onnx/graph-builder.js";
import type { FrameSize } from "./decode.js";

/**
 * videoToRgb as an ONNX graph, for videos handed over while they are made (magi's chunks): the same
 * arithmetic in float32 ((x / 2 + 0.5) clamped to [0, 1], times 255, rounded half to even: ONNX Round is
 * numpy's), so the same bytes, but in ONNX Runtime's vectorised kernels instead of one JS loop.
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

export function createRgbSession(): Promise<ort.InferenceSession> {
  // No spinning: after a chunk's last group the pool's threads would spin on the cores ffmpeg is encoding on.
  return ort.InferenceSession.create(rgbGraph(), { extra: { session: { intra_op: { allow_spinning: "0" } } } });
}

/**
 * The frames of `video` [1, 3, F, H, W] as rgb24, `group` frames at a time, in order: each group is
 * copied out of the channel planes (one memcpy per channel) and converted on its own, so the first frames
 * can be encoded while the later ones are converted. The copies go to `scratch` when it is large enough.
 */
export async function* rgbGroups(session: ort.InferenceSession, video: Float32Array, size: FrameSize, group: number, scratch = new Float32Array(0)): AsyncGenerator<Uint8Array> {
  const plane = size.height * size.width;
  const channel = size.frames * plane;
  if (video.length !== 3 * channel) throw new RangeError(`video holds ${video.length} values, not 3 x ${size.frames} frames of ${size.width}x${size.height}`);
  const buffer = scratch.length >= 3 * Math.min(group, size.frames) * plane ? scratch : new Float32Array(3 * Math.min(group, size.frames) * plane);
  for (let first = 0; first < size.frames; first += group) {
    const count = Math.min(group, size.frames - first);
    const part = buffer.subarray(0, 3 * count * plane);
    for (let k = 0; k < 3; k++) part.set(video.subarray(k * channel + first * plane, k * channel + (first + count) * plane), k * count * plane);
    const out = await session.run({ video: new ort.Tensor("float32", part, [1, 3, count, size.height, size.width]) });
    yield out.rgb!.data as Uint8Array;
  }
}
