import { readFileSync } from "node:fs";

/** Compiled once per process, by URL; each user instantiates it with a memory of its own. */
const compiled = new Map<string, WebAssembly.Module>();

const PAGE = 65536;

/**
 * A new instance of a SIMD kernel assembled at build time (scripts/assemble-wasm.mjs) with `bytes` of
 * zeroed memory. `what` names the state in the error when it cannot fit a 4 GiB WebAssembly memory.
 */
export function instantiateKernel<E extends { memory: WebAssembly.Memory }>(url: URL, bytes: number, what: string): E {
  if (bytes > 2 ** 32 - PAGE) throw new RangeError(`${what} does not fit a 4 GiB WebAssembly memory`);
  let module = compiled.get(url.href);
  if (!module) compiled.set(url.href, (module = new WebAssembly.Module(readFileSync(url))));
  const exports = new WebAssembly.Instance(module).exports as unknown as E;
  exports.memory.grow(Math.ceil(bytes / PAGE));
  return exports;
}
