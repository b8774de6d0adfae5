import { parseArgs } from "node:util";
import { ExitCode } from "@videosdgx/shared";
import { generateTinyModel, isTinyModelCurrent } from "./generate.js";

/** `node dist/tiny/cli.js <outDir> [--force]`: writes the tiny model unless a current one is there. */
const { positionals, values } = parseArgs({ allowPositionals: true, options: { force: { type: "boolean", default: false } } });
const outDir = positionals[0];
if (!outDir) {
  process.stderr.write("usage: node dist/tiny/cli.js <outDir> [--force]\n");
  process.exit(ExitCode.config);
}
if (!values.force && (await isTinyModelCurrent(outDir))) {
  process.stdout.write(`tiny model in ${outDir} is current\n`);
} else {
  await generateTinyModel(outDir);
  process.stdout.write(`tiny model written to ${outDir}\n`);
}
