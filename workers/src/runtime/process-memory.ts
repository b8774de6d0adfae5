import { setImmediate as nextTurn } from "node:timers/promises";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";

// The worker is started as `node workers/dist/main.js` by npm start, compose and the tests alike: the
// collector is reached this way rather than by a command-line flag each of them would have to pass.
v8.setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

/**
 * Resident set size once garbage is collected: JS objects still pointing at native memory (tensors,
 * sessions) are gone, so what remains is what the process really holds.
 */
export async function settledRss(): Promise<number> {
  collectGarbage();
  await nextTurn();
  collectGarbage();
  return process.memoryUsage.rss();
}
