import {
  DataType,
  encodeModel,
  type Attribute,
  type DataTypeCode,
  type ExternalTensorInit,
  type NodeInit,
  type TensorData,
  type TensorInit,
  type ValueInfoInit,
} from "@videosdgx/shared";

export { DataType };
export const OPSET = 17;

/**
 * Builds an ONNX graph op by op: `op()` returns the name of its (first) output, so graphs read like
 * expressions. Constants become initializers.
 */
export class GraphBuilder {
  private readonly nodes: NodeInit[] = [];
  private readonly initializers: TensorInit[] = [];
  private readonly externalInitializers: ExternalTensorInit[] = [];
  private readonly inputs: ValueInfoInit[] = [];
  private readonly outputs: ValueInfoInit[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, type: DataTypeCode, dims: (number | string)[]): string {
    this.inputs.push({ name, type, dims });
    return name;
  }

  output(value: string, name: string, type: DataTypeCode, dims: (number | string)[]): void {
    this.op("Identity", [value], {}, name);
    this.outputs.push({ name, type, dims });
  }

  constant(data: TensorData, dims: number[] = [data.length]): string {
    const name = this.fresh("const");
    this.initializers.push({ name, dims, data });
    return name;
  }

  /** A constant whose bytes the caller writes to `location` (beside the model file) at `offset`. */
  externalConstant(type: DataTypeCode, dims: number[], location: string, offset: number, length: number): string {
    const name = this.fresh("weight");
    this.externalInitializers.push({ name, dims, type, location, offset, length });
    return name;
  }

  scalar(value: number): string {
    return this.constant(Float32Array.of(value), []);
  }

  ints(values: number[]): string {
    return this.constant(BigInt64Array.from(values.map(BigInt)));
  }

  op(type: string, inputs: string[], attributes: Record<string, Attribute> = {}, outputName?: string): string {
    const out = outputName ?? this.fresh(type.toLowerCase());
    this.nodes.push({ op: type, inputs, outputs: [out], name: this.fresh(`n_${type}`), attributes });
    return out;
  }

  build(): Uint8Array {
    return encodeModel({
      name: this.name,
      nodes: this.nodes,
      initializers: this.initializers,
      externalInitializers: this.externalInitializers,
      inputs: this.inputs,
      outputs: this.outputs,
      opset: OPSET,
    });
  }
}
