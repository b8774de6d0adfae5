import { createRequire } from "node:module";
import path from "node:path";
import express, { type Router } from "express";

const require = createRequire(import.meta.url);
const assetsDir = path.dirname(require.resolve("swagger-ui-dist/package.json"));

const page = (specUrl: string, base: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>VideosDGX API</title>
<link rel="stylesheet" href="${base}/assets/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="${base}/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: ${JSON.stringify(specUrl)}, dom_id: "#ui" });</script>
</body></html>`;

/** Swagger UI from the swagger-ui-dist package (no CDN: the machine may be offline), reading /openapi.json. */
export function docsRouter(base: string, specUrl: string): Router {
  const router = express.Router();
  router.get("/", (_req, res) => {
    res.type("html").send(page(specUrl, base));
  });
  router.use("/assets", express.static(assetsDir, { index: false }));
  return router;
}
