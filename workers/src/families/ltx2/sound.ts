import ort from "onnxruntime-node";
import type { Waveform } from "../../video/mp4-encoder.js";
import type { AudioGrid } from "./latents.js";
import type { ModelSession } from "../../onnx/session-thread.js";

const describe = (t: ort.Tensor | undefined) => `${t?.type ?? "missing"} [${t?.dims.join(", ") ?? ""}]`;

/**
 * The audio VAE decoder and the vocoder: latents [1, C_a, L, M/4] -> mel [1, 2, T, M] -> waveform
 * [1, channels, samples], interleaved and cut or zero-padded to `samples` (the video's length), so the
 * sound ends with the last frame.
 */
export async function decodeSound(
  audioVae: ModelSession,
  vocoder: ModelSession,
  latent: Float32Array,
  grid: AudioGrid,
  sampleRate: number,
  samples: number,
): Promise<Waveform> {
  const mel = (await audioVae.run({
    latent_sample: new ort.Tensor("float32", latent, [1, grid.channels, grid.frames, grid.bins]),
  })).sample;
  if (!mel || mel.type !== "float32" || mel.dims.length !== 4 || mel.dims[0] !== 1) {
    throw new Error(`audio VAE decoder output sample is ${describe(mel)}, expected float [1, 2, T, mel_bins]`);
  }
  const wave = (await vocoder.run({ hidden_states: mel })).waveform;
  if (!wave || wave.type !== "float32" || wave.dims.length !== 3 || wave.dims[0] !== 1) {
    throw new Error(`vocoder output waveform is ${describe(wave)}, expected float [1, channels, samples]`);
  }
  const [, channels, length] = wave.dims as [number, number, number];
  const data = wave.data as Float32Array;
  const out = new Float32Array(samples * channels);
  const copied = Math.min(samples, length);
  for (let c = 0; c < channels; c++) {
    for (let s = 0; s < copied; s++) out[s * channels + c] = data[c * length + s]!;
  }
  return { samples: out, channels, sampleRate };
}
