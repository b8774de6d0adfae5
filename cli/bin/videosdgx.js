#!/usr/bin/env node
// The committed entry of `npx videosdgx`: npm links a workspace's bin at install time only if the file
// exists then, and dist/ is made later by the build.
import("../dist/main.js").catch((err) => {
  if (err?.code !== "ERR_MODULE_NOT_FOUND") throw err;
  process.stderr.write("videosdgx: the CLI is not built yet; run `npm run build` (npm start and npm test build it too)\n");
  process.exit(2);
});
