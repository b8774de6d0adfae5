import assert from "node:assert/strict";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { Platform } from "./platform.js";

/*
 * The studio page in a real headless Chromium (Debian's package), against the real API, worker and Redis.
 * Screenshots of each state are kept in infra/test-artifacts/studio (gitignored).
 */

const CHROMIUM = "/usr/bin/chromium"; // Debian's package, installed by npm test's system-deps step
const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/studio/", import.meta.url));
const MAX_PROMPT_CHARS = 80;

let p: Platform;
let context: BrowserContext;
let page: Page;
let tiny: any;
const problems: string[] = [];
/** Every 4xx/5xx answer the page got, with its body: a test expecting none checks this. */
const refusals: string[] = [];

before(async () => {
  p = await Platform.start({ env: { MAX_PROMPT_CHARS: String(MAX_PROMPT_CHARS) } });
  await p.startWorker("tiny");
  tiny = (await p.request("GET", "/v1/models/tiny")).body;
  await rm(ARTIFACTS, { recursive: true, force: true });
  await mkdir(ARTIFACTS, { recursive: true });
  context = await chromium.launchPersistentContext(path.join(p.dataDir, "chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1100, height: 900 },
  });
  // Every CSP violation and script error on any page is a failure of the test that caused it.
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
  page = context.pages()[0] ?? (await context.newPage());
  // Refused requests are checked by the tests through the page; the browser's own log line for them is not a fault.
  page.on("console", (m) => {
    if (m.type() === "error" && !/^Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on("response", async (r) => {
    if (r.status() >= 400) refusals.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()} ${await r.text().catch(() => "")}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => {
    // A stream or file left behind by navigating away is aborted by the browser: not a fault.
    if (!/ERR_ABORTED/.test(r.failure()?.errorText ?? "")) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
});

after(async () => {
  await context?.close();
  await p?.stop();
});

const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
/** No script error or CSP violation; and, unless the test expects refusals, no refused request. */
function noProblems(expectRefusals = false): void {
  const refused = refusals.splice(0);
  assert.deepEqual(problems.splice(0), []);
  if (!expectRefusals) assert.deepEqual(refused, []);
}

/** The form, freshly loaded (no state left by an earlier test). */
async function openMake(): Promise<void> {
  await page.goto(`${p.base}/#/`);
  await page.reload();
  await page.locator("#prompt").waitFor();
}

/** Fills the form for the tiny model; frames by count, the size by preset or custom width/height. */
async function fill(prompt: string, opts: { frames: number; width?: number; height?: number; steps?: number; seed?: number }): Promise<void> {
  await page.selectOption("#model", "tiny");
  await page.fill("#prompt", prompt);
  await page.fill("#num-frames", String(opts.frames));
  if (opts.width !== undefined) {
    await page.selectOption("#size", "custom");
    await page.fill("#width", String(opts.width));
    await page.fill("#height", String(opts.height));
  }
  if (opts.seed !== undefined) {
    await page.check("input[name=seed-mode][value=fixed]");
    await page.fill("#seed", String(opts.seed));
  }
  if (opts.steps !== undefined) {
    await page.click(".advanced summary");
    await page.fill("#steps", String(opts.steps));
  }
}

async function jobsWithPrompt(prompt: string): Promise<any[]> {
  const list = await p.request("GET", "/v1/jobs?model=tiny&limit=200");
  return list.body.jobs.filter((j: any) => j.params.prompt === prompt);
}

test("the page loads under a strict Content-Security-Policy, with no violation", async () => {
  const res = await fetch(`${p.base}/`);
  assert.equal(res.status, 200);
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
  assert.match(csp, /style-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  const html = await res.text();
  assert.doesNotMatch(html, /https?:\/\//, "nothing is loaded from elsewhere");

  await openMake();
  // Installed models can be picked; the others are listed, disabled, with the reason.
  const options = await page.$$eval("#model option", (os) => os.map((o) => ({ value: (o as HTMLOptionElement).value, disabled: (o as HTMLOptionElement).disabled })));
  assert.deepEqual(options.find((o) => o.value === "tiny"), { value: "tiny", disabled: false });
  assert.deepEqual(options.find((o) => o.value === "waver"), { value: "waver", disabled: true });
  await page.click(".unavailable summary");
  assert.match(await page.textContent(".unavailable") ?? "", /Waver/);
  // Every control is labelled for screen readers.
  const unlabelled = await page.$$eval("input, select, textarea", (els) =>
    els.filter((e) => (e as HTMLInputElement).labels?.length === 0 && !e.getAttribute("aria-label")).map((e) => e.outerHTML));
  assert.deepEqual(unlabelled, []);
  await shot("01-make");
  noProblems();
});

test("a tiny job from the page: one job for a double click, progress advances, the video plays", async () => {
  await openMake();
  const frames = 17;
  await fill("a red square drifting", { frames, width: 64, height: 64, steps: 40, seed: 7 });
  await page.dblclick("button[type=submit]");
  await page.waitForURL(/#\/jobs\//);
  const id = decodeURIComponent(page.url().split("#/jobs/")[1]!);
  // The progress bar's values as the page shows them, recorded in the page between our looks.
  await page.evaluate(() => {
    const seen: number[] = ((window as any).__progress = []);
    const read = () => {
      const bar = document.querySelector("#job-progress") as HTMLProgressElement | null;
      if (bar && seen.at(-1) !== bar.value) seen.push(bar.value);
    };
    new MutationObserver(read).observe(document.body, { subtree: true, attributes: true, childList: true });
    read();
  });
  await page.locator("#job-progress").waitFor({ state: "attached" }).catch(() => undefined);
  await page.locator(".phase").waitFor().catch(() => undefined);
  await shot("02-watch");
  await page.locator("#result-video").waitFor({ timeout: 120000 });
  const seen: number[] = await page.evaluate(() => (window as any).__progress);
  const between = seen.filter((v) => v > 0 && v < 40);
  assert.ok(new Set(between).size >= 2, `the bar showed steps between start and end: ${JSON.stringify(seen)}`);
  assert.deepEqual([...seen].sort((a, b) => a - b), seen, "never went backwards");

  await page.waitForFunction(() => (document.querySelector("#result-video") as HTMLVideoElement).readyState >= 2, undefined, { timeout: 30000 });
  const video = await page.$eval("#result-video", async (v) => {
    const el = v as HTMLVideoElement;
    await el.play();
    await new Promise((r) => setTimeout(r, 300));
    return { readyState: el.readyState, duration: el.duration, width: el.videoWidth, height: el.videoHeight, time: el.currentTime };
  });
  const fps = tiny.constraints.fps.default;
  assert.ok(video.readyState >= 2);
  assert.ok(Math.abs(video.duration - frames / fps) < 0.05, `duration ${video.duration}, asked ${frames} frames at ${fps} fps`);
  assert.deepEqual([video.width, video.height], [64, 64]);
  assert.ok(video.time > 0, "it plays");
  assert.match(await page.textContent(".job") ?? "", /Seed\s*7/);
  assert.equal((await jobsWithPrompt("a red square drifting")).length, 1, "a double click made one job");
  await page.setViewportSize({ width: 390, height: 844 });
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), "no sideways scrolling at phone width");
  await shot("03-video-phone");
  await page.setViewportSize({ width: 1100, height: 900 });
  await shot("03-video");

  // "Make another like this" brings the same parameters back.
  await page.click("text=Make another like this (same seed)");
  await page.locator("#prompt").waitFor();
  assert.equal(await page.inputValue("#prompt"), "a red square drifting");
  assert.equal(await page.inputValue("#seed"), "7");
  assert.equal(await page.inputValue("#num-frames"), String(frames));
  assert.ok(id.startsWith("tiny-"));
  noProblems();
});

test("a long job is cancelled from the page", async () => {
  await openMake();
  await fill("a long one", { frames: 65, width: 256, height: 256, steps: 400 });
  await page.click("button[type=submit]");
  await page.waitForURL(/#\/jobs\//);
  await page.locator(".phase[data-phase=denoising]").waitFor({ timeout: 60000 });
  await shot("04-running");
  await page.click("button.danger");
  await page.locator("article.job[data-status=cancelled]").waitFor({ timeout: 60000 });
  const [job] = await jobsWithPrompt("a long one");
  assert.equal((await p.waitForTerminal(job.id)).status, "cancelled");
  await shot("05-cancelled");
  noProblems();
});

test("an invalid choice cannot be submitted", async () => {
  await openMake();
  const rule = tiny.constraints.frames;
  assert.ok(rule.step > 1, "tiny has a frame rule to break");
  const bad = rule.default + 1;
  await fill("never sent", { frames: bad });
  await page.click("button[type=submit]");
  assert.equal(await page.$eval("#num-frames", (e) => (e as HTMLInputElement).validity.valid), false);
  assert.ok(page.url().endsWith("#/"), "still on the form");
  await shot("06-invalid");
  assert.deepEqual(await jobsWithPrompt("never sent"), []);
  noProblems();
});

test("a submission the API refuses shows the API's message", async () => {
  await openMake();
  const prompt = "x".repeat(MAX_PROMPT_CHARS + 5);
  await fill(prompt, { frames: tiny.constraints.frames.default });
  await page.click("button[type=submit]");
  const alert = page.locator("form.make .error[role=alert]");
  await alert.waitFor();
  const direct = await p.request("POST", "/v1/jobs", { model: "tiny", prompt });
  assert.equal(direct.status, 400);
  assert.ok((await alert.textContent())!.includes(direct.body.error.message), `${await alert.textContent()} shows ${direct.body.error.message}`);
  await shot("07-refused");
  assert.deepEqual(await jobsWithPrompt(prompt), []);
  noProblems(true);
});

test("the gallery lists the jobs after a reload, newest first, with posters, filtered by status", async () => {
  await page.goto(`${p.base}/#/history`);
  await page.reload();
  await page.locator(".gallery .card").first().waitFor();
  const ids = await page.$$eval(".gallery .card", (cs) => cs.map((c) => c.getAttribute("data-job")));
  const listed = (await p.request("GET", "/v1/jobs")).body.jobs.map((j: any) => j.id);
  assert.deepEqual(ids, listed, "the API's jobs, in its order (newest first)");
  const done = (await jobsWithPrompt("a red square drifting"))[0];
  const poster = page.locator(`.card[data-job="${done.id}"] img.poster`);
  await poster.waitFor();
  await page.waitForFunction((sel) => (document.querySelector(sel) as HTMLImageElement)?.naturalWidth === 64, `.card[data-job="${done.id}"] img.poster`);
  await shot("08-history");
  await page.selectOption("#filter-status", "cancelled");
  await page.waitForFunction(() => [...document.querySelectorAll(".gallery .status")].every((s) => s.textContent === "cancelled"));
  assert.equal(await page.locator(".gallery .card").count(), 1);
  noProblems();
});

test("the job list pages with before; the poster is served once the video exists", async () => {
  const all = (await p.request("GET", "/v1/jobs")).body.jobs.map((j: any) => j.id);
  assert.ok(all.length >= 2);
  const paged: string[] = [];
  let before: string | undefined;
  do {
    const page = await p.request("GET", `/v1/jobs?limit=1${before ? `&before=${before}` : ""}`);
    assert.equal(page.status, 200);
    paged.push(...page.body.jobs.map((j: any) => j.id));
    before = page.body.next_before;
  } while (before && paged.length <= all.length);
  assert.deepEqual(paged, all, "pages of one, in order, make the whole list");
  const stale = await p.request("GET", "/v1/jobs?before=tiny-00000000-0000-4000-8000-000000000000");
  assert.equal(stale.status, 400);
  assert.match(stale.body.error.message, /^before: no job tiny-0+/);

  const [done] = await jobsWithPrompt("a red square drifting");
  assert.equal(done.result.poster_url, `/v1/jobs/${done.id}/poster.jpg`);
  const poster = await p.request("GET", done.result.poster_url);
  assert.equal(poster.status, 200);
  assert.equal(poster.headers.get("content-type"), "image/jpeg");
  assert.deepEqual([...(poster.body as Buffer).subarray(0, 3)], [0xff, 0xd8, 0xff], "a JPEG");
  const openapi = (await p.request("GET", "/openapi.json")).body;
  assert.ok(openapi.paths["/v1/jobs/{id}/poster.jpg"].get.responses["200"].content["image/jpeg"], "the poster route is in the OpenAPI document");
  assert.ok(openapi.paths["/v1/jobs"].get.parameters.some((q: any) => q.name === "before"));
  const [cancelled] = await jobsWithPrompt("a long one");
  const none = await p.request("GET", `/v1/jobs/${cancelled.id}/poster.jpg`);
  assert.equal(none.status, 404);
  assert.match(none.body.error.message, /is cancelled; its poster exists once it is completed/);
});

test("the host view shows the worker and the memory budget", async () => {
  await page.goto(`${p.base}/#/host`);
  await page.locator(".host table").first().waitFor();
  const text = (await page.textContent(".host")) ?? "";
  assert.match(text, /Ready: 1 worker alive/);
  assert.match(text, /reserved/);
  assert.ok(await page.locator("a[href='/admin/queues']").count());
  await shot("09-host");
  noProblems();
});

test("with a key required, the page asks for it and uses it", async () => {
  const { key } = await p.createKey("admin", "studio");
  await page.goto(`${p.base}/#/`);
  await page.reload();
  const panel = page.locator(".key-panel");
  await panel.waitFor();
  assert.match((await panel.textContent())!, /this API needs a key/i);
  await shot("10-key-asked");
  await page.fill("#api-key", key);
  await page.click(".key-panel button[type=submit]");
  await page.locator("#prompt").waitFor();
  assert.equal(await panel.count(), 0);
  assert.equal(await page.evaluate(() => localStorage.getItem("videosdgx.api_key")), key);
  // A key without jobs:write: the API's 403 message, in words.
  const { key: reader } = await p.createKey("jobs:read", "reader");
  await page.evaluate((k) => localStorage.setItem("videosdgx.api_key", k), reader);
  await openMake();
  await fill("not allowed", { frames: tiny.constraints.frames.default });
  await page.click("button[type=submit]");
  await panel.waitFor();
  assert.match((await panel.textContent())!, /needs the jobs:write scope/);
  await shot("11-key-forbidden");
  noProblems(true);
});
