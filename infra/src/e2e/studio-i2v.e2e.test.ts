import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium, type BrowserContext } from "playwright-core";
import { blockPattern, encodeTestImage } from "@videosdgx/shared/testing";
import { generateTinyWanI2vModel } from "@videosdgx/workers/tinywani2v";
import { Platform } from "./platform.js";

/* The studio's image input for image-to-video models, in Debian's headless Chromium against the real API and worker. */

const CHROMIUM = "/usr/bin/chromium";
let p: Platform;
let context: BrowserContext;

before(async () => {
  p = await Platform.start();
  await generateTinyWanI2vModel(path.join(p.dataDir, "models", "tinywani2v"));
  await p.startWorker("tinywani2v");
  context = await chromium.launchPersistentContext(path.join(p.dataDir, "chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
after(async () => {
  await context?.close();
  await p?.stop();
});

test("an i2v model's form asks for an image; the picked file is sent and conditions the job", async () => {
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => void (m.type() === "error" && problems.push(m.text())));
  await page.goto(`${p.base}/#/`);
  await page.selectOption("#model", "tinywani2v");
  assert.equal(await page.locator("#image").getAttribute("accept"), "image/jpeg,image/png,image/webp");
  await page.fill("#prompt", "a kite over a windy hill");
  await page.selectOption("#model", "tiny");
  assert.equal(await page.locator("#image").count(), 0, "a text-to-video model has no image input");
  await page.selectOption("#model", "tinywani2v");
  await page.fill("#prompt", "a kite over a windy hill");
  const png = await encodeTestImage(blockPattern(160, 96, 8), 160, 96, "png");
  await page.setInputFiles("#image", { name: "kite.png", mimeType: "image/png", buffer: png });
  await page.click("button[type=submit]");
  await page.waitForURL(/#\/jobs\//);
  const id = decodeURIComponent(page.url().split("#/jobs/")[1]!);
  const job = await p.waitForTerminal(id);
  assert.equal(job.status, "completed", JSON.stringify(job.error));
  assert.equal(job.params.image.sha256, createHash("sha256").update(png).digest("hex"));
  assert.deepEqual(problems, []);
});
