import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express, { type RequestHandler, type Router } from "express";

const require = createRequire(import.meta.url);
/** The page's own files (api/web), beside dist/ in the package. */
const webDir = fileURLToPath(new URL("../../web/", import.meta.url));

/** The library's ES modules, served from its npm package as published (no CDN, no bundler). */
/** The ES module beside a package's CommonJS entry (both packages ship `x.js` and `x.mjs` side by side). */
const esModuleOf = (specifier: string, file: string) => path.join(path.dirname(require.resolve(specifier)), file);
const VENDOR: Record<string, string> = {
  "preact.mjs": esModuleOf("preact", "preact.mjs"),
  "hooks.mjs": esModuleOf("preact/hooks", "hooks.mjs"),
  "htm.mjs": esModuleOf("htm", "htm.mjs"),
};

export const STUDIO_ASSETS = "/studio";

/** The only inline script: preact/hooks imports "preact" by name, resolved here. Allowed by its hash. */
const importMap = JSON.stringify({
  imports: { preact: `${STUDIO_ASSETS}/vendor/preact.mjs`, "preact/hooks": `${STUDIO_ASSETS}/vendor/hooks.mjs`, htm: `${STUDIO_ASSETS}/vendor/htm.mjs` },
});
const importMapHash = createHash("sha256").update(importMap).digest("base64");

/**
 * A strict policy: scripts only from this origin (plus the import map, by hash), no inline styles, media
 * from this origin or blob: URLs (videos and posters fetched with the key), nothing from elsewhere.
 */
export const STUDIO_CSP = [
  "default-src 'none'",
  `script-src 'self' 'sha256-${importMapHash}'`,
  "style-src 'self'",
  "img-src 'self' blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>VideosDGX Studio</title>
<link rel="icon" href="${STUDIO_ASSETS}/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${STUDIO_ASSETS}/studio.css">
<script type="importmap">${importMap}</script>
<script type="module" src="${STUDIO_ASSETS}/app.js"></script>
</head>
<body>
<div id="app"><p class="boot">Loading VideosDGX Studio…</p></div>
<noscript><p>The studio needs JavaScript. The API itself is at <a href="/docs">/docs</a>.</p></noscript>
</body>
</html>
`;

const strictCsp: RequestHandler = (_req, res, next) => {
  res.setHeader("Content-Security-Policy", STUDIO_CSP);
  next();
};

/** The studio: its page at `/`, its scripts and styles under /studio. Public: the page asks for a key itself. */
export function studioRouter(): Router {
  const router = express.Router();
  // Mounted after every API route: what reaches it is the page, its files or a 404.
  router.use(strictCsp);
  router.get("/", (_req, res) => {
    res.type("html").setHeader("Cache-Control", "no-cache").send(page);
  });
  for (const [name, file] of Object.entries(VENDOR)) {
    router.get(`${STUDIO_ASSETS}/vendor/${name}`, (_req, res) => res.type("text/javascript").sendFile(file));
  }
  router.use(STUDIO_ASSETS, express.static(webDir, { index: false, fallthrough: true }));
  return router;
}
