import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const packageDir = (name: string) => path.dirname(require.resolve(`${name}/package.json`));

/** The built entry scripts of the processes the platform runs. */
export const API_MAIN = path.join(packageDir("@videosdgx/api"), "dist/main.js");
export const WORKER_MAIN = path.join(packageDir("@videosdgx/workers"), "dist/main.js");
export const WEBHOOKS_MAIN = path.join(packageDir("@videosdgx/webhooks"), "dist/main.js");
/** The API keys command line (npm run keys). */
export const KEYS_MAIN = fileURLToPath(new URL("keys.js", import.meta.url));
