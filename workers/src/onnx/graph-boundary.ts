import ort from "onnxruntime-node";
import { float16ToFloat32, float32ToFloat16 } from "./float16.js";

/**
 * Runs a session with the pipeline's float32 tensors on both sides whatever the graph declares: real
 * exports are float16 at their inputs and outputs, while latents and samplers stay float32. Each input's
 * and output's element type comes from the session's metadata. Conversion buffers are kept per name and
 * reused run after run (a denoising loop converts the same-sized latent every step), so a converted
 * output is valid until the next `run` of the same boundary.
 */
export class GraphBoundary {
  private readonly inputTypes = new Map<string, ort.Tensor.Type>();
  private readonly halfInputs = new Map<string, Uint16Array>();
  private readonly floatOutputs = new Map<string, Float32Array>();

  constructor(readonly session: ort.InferenceSession) {
    for (const m of session.inputMetadata) if (m.isTensor) this.inputTypes.set(m.name, m.type);
  }

  /**
   * A float32 tensor as the graph's input `name` takes it: converted for a float16 input, unchanged
   * otherwise. Tensors fed at every step unchanged (text states) are converted once with this.
   */
  toInput(name: string, tensor: ort.Tensor): ort.Tensor {
    if (tensor.type !== "float32" || this.inputTypes.get(name) !== "float16") return tensor;
    const src = tensor.data as Float32Array;
    let buf = this.halfInputs.get(name);
    if (buf?.length !== src.length) {
      buf = new Uint16Array(src.length);
      this.halfInputs.set(name, buf);
    }
    return new ort.Tensor("float16", float32ToFloat16(src, buf), tensor.dims);
  }

  /** Runs with float32 feeds converted to the inputs' types; float16 outputs come back as float32. */
  async run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    const converted: Record<string, ort.Tensor> = {};
    for (const [name, tensor] of Object.entries(feeds)) converted[name] = this.toInput(name, tensor);
    const out: Record<string, ort.Tensor> = { ...(await this.session.run(converted)) };
    for (const [name, tensor] of Object.entries(out)) {
      if (tensor.type === "float16") out[name] = this.toFloat32(name, tensor);
    }
    return out;
  }

  private toFloat32(name: string, tensor: ort.Tensor): ort.Tensor {
    // Bit patterns in a Uint16Array on Node 20; where ORT hands out a Float16Array the values are numbers.
    if (!(tensor.data instanceof Uint16Array)) {
      return new ort.Tensor("float32", Float32Array.from(tensor.data as ArrayLike<number>), tensor.dims);
    }
    let buf = this.floatOutputs.get(name);
    if (buf?.length !== tensor.data.length) {
      buf = new Float32Array(tensor.data.length);
      this.floatOutputs.set(name, buf);
    }
    return new ort.Tensor("float32", float16ToFloat32(tensor.data, buf), tensor.dims);
  }
}
