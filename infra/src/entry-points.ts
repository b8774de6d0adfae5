import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const packageDir = (name: string) => path.dirname(require.resolve(`${name}/package.json`));

/** The built entry scripts of the processes the platform runs. */
export const API_MAIN = path.join(packageDir("@videosdgx/api"), "dist/main.js");
export const WORKER_MAIN = path.join(packageDir("@videosdgx/workers"), "dist/main.js");
export const WEBHOOKS_MAIN = path.join(packageDir("@videosdgx/webhooks"), "dist/main.js");
/** The videosdgx command line (npx videosdgx; npm run keys is its `keys` command). */
export const CLI_MAIN = path.join(packageDir("@videosdgx/cli"), "dist/main.js");
