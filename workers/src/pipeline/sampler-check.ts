import { ExitCode } from "@videosdgx/shared";
import { checkCase, FINAL_TOLERANCE, readGoldenFile } from "./golden-cases.js";

/**
 * `node dist/pipeline/sampler-check.js FILE.json` (`npm run sampler-check -- FILE.json`): runs every case
 * of a golden scheduler file through our samplers and prints each case's largest deviations.
 * Exit 0 when all match, 1 when any is off, 2 (ExitCode.config) for a missing or malformed file.
 */
const file = process.argv[2];
if (!file || process.argv.length > 3) {
  process.stderr.write("usage: npm run sampler-check -- FILE.json\n");
  process.exit(ExitCode.config);
}
let cases: Awaited<ReturnType<typeof readGoldenFile>>;
try {
  cases = await readGoldenFile(file);
} catch (err) {
  process.stderr.write(`sampler-check: ${(err as Error).message}\n`);
  process.exit(ExitCode.config);
}
let off = 0;
for (const [name, c] of Object.entries(cases)) {
  const r = checkCase(name, c);
  if (!r.ok) off++;
  const detail = r.error?.replace(/\s*\n\s*/g, " ") ?? `timesteps max |d| ${r.timestepDeviation.toExponential(2)}  final max |d| ${r.finalDeviation.toExponential(2)}`;
  process.stdout.write(`${r.ok ? "ok  " : "OFF "} ${name}  ${detail}\n`);
}
const total = Object.keys(cases).length;
process.stdout.write(`${total - off} of ${total} cases match (timesteps equal, final latent within ${FINAL_TOLERANCE})\n`);
process.exit(off > 0 ? 1 : 0);
