// Build step: every src/**/*.wat becomes dist/**/*.wasm beside the compiled modules that load it.
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import wabtInit from "wabt";

const root = path.resolve(import.meta.dirname, "..");
const wabt = await wabtInit();
for (const entry of await readdir(path.join(root, "src"), { recursive: true })) {
  if (!entry.endsWith(".wat")) continue;
  const source = path.join(root, "src", entry);
  const parsed = wabt.parseWat(entry, await readFile(source, "utf8"), { simd: true });
  try {
    parsed.validate();
    const out = path.join(root, "dist", entry.replace(/\.wat$/, ".wasm"));
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}
