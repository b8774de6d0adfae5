import { readFileSync } from "node:fs";
import { setImmediate as nextTurn } from "node:timers/promises";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";

// The worker is started as `node workers/dist/main.js` by npm start, compose and the tests alike: the
// collector is reached this way rather than by a command-line flag each of them would have to pass.
v8.setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

/**
 * Anonymous resident memory (Linux `RssAnon`): what the process holds that the kernel can neither drop
 * nor read back from a file, unlike the pages of the ONNX Runtime library it has run. Elsewhere: all of RSS.
 */
function anonymousRss(): number {
  try {
    const kb = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    if (kb) return Number(kb) * 1024;
  } catch {
    // Not Linux: no /proc.
  }
  return process.memoryUsage.rss();
}

/**
 * The process's anonymous resident memory once garbage is collected: JS objects still pointing at native
 * memory (tensors, sessions) are gone, so what remains is what the process really holds.
 */
export async function settledAnonymousRss(): Promise<number> {
  collectGarbage();
  await nextTurn();
  collectGarbage();
  return anonymousRss();
}
