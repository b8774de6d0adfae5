import assert from "node:assert/strict";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { hostname } from "node:os";
import { chromium, type BrowserContext, type Page, type Request } from "playwright-core";
import { generateTinyMagiModel } from "@videosdgx/workers/tinymagi";
import { Platform } from "./platform.js";

/*
 * The studio page in a real headless Chromium (Debian's package), against the real API, worker and Redis.
 * Screenshots of each state are kept in infra/test-artifacts/studio (gitignored).
 */

const CHROMIUM = "/usr/bin/chromium"; // Debian's package, installed by npm test's system-deps step
const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/studio/", import.meta.url));
const MAX_PROMPT_CHARS = 80;
const GB = 1_000_000_000;
// Two models that cannot both be loaded within the budget (2 + 2.4 > 3): the second one's job waits for memory.
const FOOTPRINT = { residentBytes: 2 * GB, loadPeakFactor: 1.2 };

let p: Platform;
let context: BrowserContext;
let page: Page;
let tiny: any;
const problems: string[] = [];
/** Every 4xx/5xx answer the page got, with its body: a test expecting none checks this. */
const refusals: string[] = [];

before(async () => {
  p = await Platform.start({
    // Two GPU slots: the host view's waiting job waits for memory, not for the GPU.
    env: { MAX_PROMPT_CHARS: String(MAX_PROMPT_CHARS), MEMORY_BUDGET_BYTES: String(3 * GB), GPU_CONCURRENCY: "2", PREVIEW_EVERY_STEPS: "20" },
    extraTinyModels: ["broken", { name: "tinya", ...FOOTPRINT }, { name: "tinyb", ...FOOTPRINT }],
  });
  await generateTinyMagiModel(path.join(p.dataDir, "models", "tinymagi"));
  // The API follows the event streams of the models it found at start: restarted to see tinymagi's.
  await p.api.stop();
  await p.startApi();
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

/** Fills the form (for tiny unless told); frames by count, the size by preset or custom width/height. */
async function fill(prompt: string, opts: { frames: number; width?: number; height?: number; steps?: number; seed?: number; model?: string }): Promise<void> {
  await page.selectOption("#model", opts.model ?? "tiny");
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

/** Starts recording the progress bar's values as the page shows them, in the page between our looks. */
async function recordProgress(): Promise<void> {
  await page.evaluate(() => {
    const seen: number[] = ((window as any).__progress = []);
    const read = () => {
      const bar = document.querySelector("#job-progress") as HTMLProgressElement | null;
      if (bar && seen.at(-1) !== bar.value) seen.push(bar.value);
    };
    new MutationObserver(read).observe(document.body, { subtree: true, attributes: true, childList: true });
    read();
  });
}

async function jobsWithPrompt(prompt: string, model = "tiny"): Promise<any[]> {
  const list = await p.request("GET", `/v1/jobs?model=${model}&limit=200`);
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
  await recordProgress();
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
  assert.equal(await page.isChecked("input[name=seed-mode][value=fixed]"), true);
  assert.ok(id.startsWith("tiny-"));
  // ... and with a new seed: the same parameters, the seed left to chance.
  await page.goto(`${p.base}/#/jobs/${encodeURIComponent(id)}`);
  await page.click("text=Make another like this (new seed)");
  await page.locator("#prompt").waitFor();
  assert.equal(await page.inputValue("#prompt"), "a red square drifting");
  assert.equal(await page.inputValue("#steps"), "40");
  assert.equal(await page.isChecked("input[name=seed-mode][value=random]"), true);
  assert.equal(await page.isDisabled("#seed"), true);
  noProblems();
});

test("a long job is cancelled from the page", async () => {
  await openMake();
  await fill("a long one", { frames: 65, width: 256, height: 256, steps: 1000 });
  await page.click("button[type=submit]");
  await page.waitForURL(/#\/jobs\//);
  await page.locator(".phase[data-phase=denoising]").waitFor({ timeout: 60000 });
  // The latest preview (every 20 steps here), fetched with the key as each `preview` event comes.
  const preview = page.locator("img#job-preview");
  await preview.waitFor({ timeout: 60000 });
  assert.match((await preview.getAttribute("alt")) ?? "", /^Preview of the video being made, at step \d+ of 1000$/);
  await page.waitForFunction(() => (document.querySelector("img#job-preview") as HTMLImageElement | null)?.naturalWidth === 256, undefined, { timeout: 30000 });
  // The time left, from the worker's mean step time (progress.step_ms) and the steps left, read in one look.
  await page.locator(".phase .eta").waitFor({ timeout: 60000 });
  const shown = await page.$eval(".phase", (el) => ({
    eta: el.querySelector(".eta")!.textContent, stepMs: Number((el.querySelector(".eta") as HTMLElement).dataset["stepMs"]), step: Number(el.querySelector("strong")!.textContent),
  }));
  assert.match(shown.eta!, /^\d+ s$/);
  assert.ok(shown.stepMs > 0, `the worker's step time: ${shown.stepMs}`);
  assert.equal(shown.eta, `${Math.ceil(((1000 - shown.step) * shown.stepMs) / 1000)} s`);
  await shot("04-running");
  // Opened afresh (here: away and back), the page shows the time left with its first event: the
  // worker's figure, not one the page must first time over steps of its own.
  const [running] = await jobsWithPrompt("a long one");
  await page.goto(`${p.base}/#/history`);
  await page.locator(".gallery").waitFor();
  await page.evaluate(() => {
    const seen: string[] = ((window as any).__firstDenoising = []);
    const read = () => {
      const text = document.querySelector(".phase[data-phase=denoising]")?.textContent;
      if (text && seen.length === 0) seen.push(text);
    };
    new MutationObserver(read).observe(document.body, { subtree: true, attributes: true, childList: true, characterData: true });
  });
  await page.goto(`${p.base}/#/jobs/${encodeURIComponent(running.id)}`);
  await page.locator(".phase[data-phase=denoising]").waitFor({ timeout: 30000 });
  const [first] = await page.evaluate(() => (window as any).__firstDenoising as string[]);
  assert.match(first ?? "", /Denoising — step \d+ of 1000 · about \d+ s left/);
  await page.click("button.danger");
  await page.locator("article.job[data-status=cancelled]").waitFor({ timeout: 60000 });
  const [job] = await jobsWithPrompt("a long one");
  assert.equal((await p.waitForTerminal(job.id)).status, "cancelled");
  await shot("05-cancelled");
  noProblems();
});

test("the page follows a job through an API restart and a 503: resumed with Last-Event-ID, the bar never goes back", async () => {
  await openMake();
  await fill("through a restart", { frames: 65, width: 256, height: 256, steps: 400 });
  // The Last-Event-ID of every event-stream request the page makes.
  const resumedFrom: string[] = [];
  const onRequest = async (r: Request) => {
    if (!new URL(r.url()).pathname.endsWith("/events")) return;
    const id = (await r.allHeaders())["last-event-id"];
    if (id) resumedFrom.push(id);
  };
  page.on("request", onRequest);
  try {
    await page.click("button[type=submit]");
    await page.waitForURL(/#\/jobs\//);
    await recordProgress();
    await page.waitForFunction(() => ((document.querySelector("#job-progress") as HTMLProgressElement | null)?.value ?? 0) >= 3, undefined, { timeout: 60000 });
    assert.equal(await page.locator(".connection .reconnecting").count(), 0, "no sign while the stream is up");
    await p.api.stop();
    const atStop = await page.$eval("#job-progress", (b) => (b as HTMLProgressElement).value);
    assert.ok(atStop < 400, `still running when the API stopped (step ${atStop})`);
    // While the stream is down the page says so, announced (role=status), and keeps trying.
    const sign = page.locator("[role=status][aria-live=polite].connection .reconnecting");
    await sign.waitFor({ timeout: 30000 });
    assert.equal(await sign.textContent(), "Connection lost — reconnecting…");
    await shot("04a-reconnecting");
    // Back without its Redis first: the page's reconnection is answered 503 (Retry-After), and tries again.
    await p.redis.kill("SIGTERM");
    await p.startApi({ awaitRedis: false });
    const unavailable = await page.waitForResponse((r) => new URL(r.url()).pathname.endsWith("/events") && r.status() === 503, { timeout: 60000 });
    assert.ok(Number(unavailable.headers()["retry-after"]) > 0, "the 503 says when to try again");
    assert.equal(await sign.count(), 1, "still shown while the API answers 503");
    await p.redis.restart();
    await p.apiReachesRedis();
    // Gone once the stream is back.
    await sign.waitFor({ state: "detached", timeout: 60000 });
    await page.locator("article.job[data-status=completed] #result-video").waitFor({ timeout: 180000 });
    await shot("04b-after-restart");
    const seen: number[] = await page.evaluate(() => (window as any).__progress);
    assert.ok(seen.some((v) => v > atStop + 1), `the bar went on after the restart (stopped at ${atStop}): ${JSON.stringify(seen)}`);
    assert.deepEqual([...seen].sort((a, b) => a - b), seen, "never went backwards");
  } finally {
    page.off("request", onRequest);
  }
  assert.ok(resumedFrom.length >= 1 && resumedFrom.every((id) => /^\d+-\d+$/.test(id)), `reopened with Last-Event-ID: ${JSON.stringify(resumedFrom)}`);
  const [job] = await jobsWithPrompt("through a restart");
  assert.equal(job.status, "completed");
  // While the API was away its event stream broke off and could not be reopened (refused connections,
  // then 503s until it reached Redis), and a preview announced as it was stopping could not be fetched:
  // expected here, and only for this job.
  const events = `/v1/jobs/${job.id}/events`;
  const away = new RegExp(`^request failed: ${p.base}/v1/jobs/${job.id}/(events|preview\\.jpg) net::`);
  assert.deepEqual(problems.splice(0).filter((m) => !away.test(m)), []);
  assert.deepEqual(refusals.splice(0).filter((r) => !r.startsWith(`GET ${events} 503 `)), []);
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

  // MAGI's steps are a multiple of its window size (GET /v1/models says which): any other count is refused.
  const magi = (await p.request("GET", "/v1/models/tinymagi")).body;
  const multiple = magi.steps_multiple;
  assert.ok(multiple > 1, `tinymagi has a steps multiple: ${JSON.stringify(magi)}`);
  const openapi = (await p.request("GET", "/openapi.json")).body;
  const view = openapi.paths["/v1/models/{model}"].get.responses["200"].content["application/json"].schema;
  assert.equal(view.properties.steps_multiple.type, "integer", "documented in the model view");
  const stepsOf = async (steps: number) => {
    await page.fill("#steps", String(steps));
    return page.$eval("#steps", (e) => (e as HTMLInputElement).validity.valid);
  };
  await openMake();
  await fill("never sent either", { model: "tinymagi", frames: magi.constraints.frames.default, steps: multiple * 3 });
  assert.equal(await page.$eval("#steps", (e) => (e as HTMLInputElement).validity.valid), true, "a multiple is accepted");
  assert.match((await page.textContent("#steps-hint"))!, new RegExp(`^a multiple of ${multiple}, `));
  const refused = await p.request("POST", "/v1/jobs", { model: "tinymagi", prompt: "direct", steps: multiple * 3 + 1 });
  assert.equal(refused.status, 400, "the API refuses what the page refuses");
  assert.equal(await stepsOf(multiple * 3 + 1), false);
  await page.click("button[type=submit]");
  assert.ok(page.url().endsWith("#/"), "still on the form");
  await shot("06b-invalid-steps");
  assert.deepEqual(await jobsWithPrompt("never sent either", "tinymagi"), []);
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

test("a 429 (queue full) shows the API's message and when to try again, the form kept; once there is room it goes", async () => {
  // An API that queues at most one job per model; tinya has no worker here, so what is queued stays.
  await p.api.stop();
  await p.startApi({ env: { MAX_QUEUED_PER_MODEL: "1" } });
  const first = await p.request("POST", "/v1/jobs", { model: "tinya", prompt: "holds the only place" });
  assert.equal(first.status, 202, JSON.stringify(first.body));
  let made: string | undefined;
  try {
    await openMake();
    const prompt = "waits for a place in the queue";
    await fill(prompt, { frames: tiny.constraints.frames.default, model: "tinya" });
    await page.click("button[type=submit]");
    const alert = page.locator("form.make .error[role=alert]");
    await alert.waitFor();
    const direct = await p.request("POST", "/v1/jobs", { model: "tinya", prompt });
    assert.equal(direct.status, 429, JSON.stringify(direct.body));
    const text = (await alert.textContent())!;
    assert.ok(text.includes(`(${direct.body.error.code})`) && text.includes(direct.body.error.message), `${text} shows ${JSON.stringify(direct.body.error)}`);
    assert.ok(text.includes(`try again in ${direct.headers.get("retry-after")} s`), `${text} says when (Retry-After ${direct.headers.get("retry-after")})`);
    assert.equal(await page.inputValue("#prompt"), prompt, "the form is kept");
    assert.deepEqual(await jobsWithPrompt(prompt, "tinya"), []);
    await shot("07b-queue-full");
    // Room again: the same form goes through.
    assert.equal((await p.request("DELETE", `/v1/jobs/${first.body.id}`)).status, 202);
    await page.click("button[type=submit]");
    await page.waitForURL(/#\/jobs\//);
    made = decodeURIComponent(page.url().split("#/jobs/")[1]!);
    assert.deepEqual((await jobsWithPrompt(prompt, "tinya")).map((j) => j.id), [made]);
    noProblems(true);
  } finally {
    for (const id of [first.body.id, made]) if (id) await p.request("DELETE", `/v1/jobs/${id}`);
    await p.api.stop();
    await p.startApi();
  }
});

test("a failed job shows its error's message, on its page and in the gallery", async () => {
  // Sound in structure, so it is installed and takes jobs; only loading it fails.
  await p.makeUnloadable("broken");
  const worker = await p.startWorker("broken");
  try {
    await openMake();
    await fill("a job that fails", { frames: tiny.constraints.frames.default, model: "broken" });
    await page.click("button[type=submit]");
    await page.waitForURL(/#\/jobs\//);
    await page.locator("article.job[data-status=failed]").waitFor({ timeout: 60000 });
    const [job] = await jobsWithPrompt("a job that fails", "broken");
    assert.equal(job.status, "failed");
    const alert = page.locator("article.job .error[role=alert]");
    assert.ok((await alert.textContent())!.includes(job.error.message), `${await alert.textContent()} shows ${job.error.message}`);
    assert.match((await alert.textContent())!, /model_load_failed/);
    assert.ok(await page.locator("article.job button", { hasText: "Retry" }).count());
    await shot("07b-failed");
    await page.goto(`${p.base}/#/history?status=failed`);
    const card = page.locator(`.card[data-job="${job.id}"]`);
    await card.waitFor();
    assert.ok((await card.locator(".error").textContent())!.includes(job.error.message));
    await shot("07c-failed-in-gallery");
  } finally {
    await worker.stop();
  }
  noProblems();
});

test("a streamed job (tinymagi) shows its chunks as they arrive, then plays", async () => {
  const w = await p.startWorker("tinymagi");
  try {
    await openMake();
    await fill("a paper boat, chunk by chunk", { model: "tinymagi", frames: 192, width: 64, height: 64, steps: 64 });
    await page.click("button[type=submit]");
    await page.waitForURL(/#\/jobs\//);
    await page.evaluate(() => {
      const seen: string[] = ((window as any).__chunks = []);
      const read = () => {
        const text = document.querySelector(".chunks")?.textContent;
        if (text && seen.at(-1) !== text) seen.push(text);
      };
      new MutationObserver(read).observe(document.body, { subtree: true, childList: true, characterData: true });
      read();
    });
    await page.locator(".chunks").waitFor({ timeout: 60000 });
    await shot("07d-chunks");
    // The growing video, playable while the job still runs: checked in one look, so "running" and the
    // video's state are seen together.
    const growing = await page.waitForFunction(() => {
      const v = document.querySelector("video#chunk-video") as HTMLVideoElement | null;
      const status = document.querySelector("article.job")?.getAttribute("data-status");
      return v && v.readyState >= 2 && v.duration > 0 && status === "running"
        ? { duration: v.duration, chunks: Number(v.dataset["chunks"]), label: v.getAttribute("aria-label"), width: v.videoWidth }
        : undefined;
    }, undefined, { timeout: 120000, polling: 50 });
    const partial = (await growing.jsonValue())!;
    await shot("07e-chunk-video");
    const fps = (await p.request("GET", "/v1/models/tinymagi")).body.constraints.fps.default;
    assert.ok(partial.chunks >= 1 && partial.chunks < 8, `shown with ${partial.chunks} of 8 chunks`);
    // At least the chunks it was fetched for (24 frames each), less than the whole video.
    assert.ok(partial.duration >= (partial.chunks * 24) / fps - 0.05 && partial.duration < 192 / fps, `the part made so far: ${partial.duration} s of ${192 / fps} s`);
    assert.equal(partial.width, 64);
    assert.match(partial.label ?? "", /^The video so far: \d of 8 chunks of: a paper boat, chunk by chunk$/);
    await page.locator("#result-video").waitFor({ timeout: 120000 });
    assert.equal(await page.locator("video#chunk-video").count(), 0, "the growing video gives way to the finished one");
    const seen: string[] = await page.evaluate(() => (window as any).__chunks);
    const done = seen.map((t) => Number(/Chunks ready: (\d+) of 8/.exec(t)?.[1])).filter((n) => n > 0 && n < 8);
    assert.ok(done.length >= 2, `chunks shown as they arrived: ${JSON.stringify(seen)}`);
    assert.deepEqual([...done].sort((a, b) => a - b), done, "in order");
    await page.waitForFunction(() => (document.querySelector("#result-video") as HTMLVideoElement).readyState >= 2, undefined, { timeout: 30000 });
  } finally {
    await w.stop();
  }
  noProblems();
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
  const cancelled = (await p.request("GET", "/v1/jobs?status=cancelled")).body.jobs.map((j: any) => j.id);
  assert.ok(cancelled.length >= 1, "earlier tests cancelled jobs");
  assert.deepEqual(await page.$$eval(".gallery .card", (cs) => cs.map((c) => c.getAttribute("data-job"))), cancelled);
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

test("the host view shows each host apart: its budget, what holds it, jobs waiting for its memory, its workers", async () => {
  const [a, b] = [await p.startWorker("tinya"), await p.startWorker("tinyb")];
  const small = (model: string, steps: number, size = 64, frames = 5) => ({ model, prompt: `holding ${model}`, width: size, height: size, num_frames: frames, steps, seed: 1 });
  const submit = async (body: object) => {
    const res = await p.request("POST", "/v1/jobs", body);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const long = await submit(small("tinya", 1000, 512, 65));
  const waiting = await submit(small("tinyb", 2));
  try {
    await p.waitForJob(long, (j) => j.progress.phase === "denoising");
    await p.waitForJob(waiting, (j) => j.progress.phase === "waiting_for_memory");
    await page.goto(`${p.base}/#/host`);
    const host = page.locator(`.host-card[data-host="${hostname()}"]`);
    await host.locator(`.memory-waits a[href="#/jobs/${encodeURIComponent(waiting)}"]`).waitFor({ timeout: 30000 });
    const text = (await host.textContent()) ?? "";
    // A worker stopped by an earlier test is listed until its heartbeat expires: counted, not assumed.
    const models = await host.locator("tbody tr td:first-of-type").allTextContents();
    for (const m of ["tiny", "tinya", "tinyb"]) assert.ok(models.includes(m), `${m}'s worker is listed: ${models}`);
    // tiny, asked to unload for tinyb, may still be loading off: tinya must be among the loaded.
    const loaded = new RegExp(`^${hostname()}${models.length} workers alive · loaded: (.*?)Memory`).exec(text);
    assert.ok(loaded?.[1]!.split(", ").includes("tinya"), `tinya is among the loaded models: ${text}`);
    assert.match(text, /of the 3\.00 GB budget reserved/);
    assert.match((await host.locator(".holders").textContent())!, /tinya \(worker \d+\): 2\.00 GB, running a job/);
    assert.match((await host.locator(".memory-waits").textContent())!, /holding tinyb \(tinyb\): waiting for memory: loading tinyb needs 2\.40 GB, .*held by others/);
    assert.match((await host.locator("tbody").textContent())!, /tinyamodel loaded, running a job2\.00 GB/);
    assert.match((await page.textContent(".host")) ?? "", new RegExp(`Ready: ${models.length} workers alive`));
    assert.ok(await page.locator("a[href='/admin/queues']").count());
    assert.ok(await page.locator("a[href='/docs']").count());
    await shot("09-host");
  } finally {
    for (const id of [waiting, long].filter(Boolean)) await p.request("DELETE", `/v1/jobs/${id}`);
    for (const id of [waiting, long].filter(Boolean)) await p.waitForTerminal(id);
    await Promise.all([a.stop(), b.stop()]);
  }
  noProblems();
});

test("a job waiting behind others shows its place in the queue, moving up live", async () => {
  const submit = async (prompt: string) => {
    const res = await p.request("POST", "/v1/jobs", { model: "tiny", prompt, width: 256, height: 256, num_frames: 65, steps: 1000, seed: 1 });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const busy = await submit("holding the worker");
  const ahead = await submit("queued ahead");
  let mine: string | undefined;
  try {
    await p.waitForJob(busy, (j) => j.progress.phase === "denoising");
    await openMake();
    await fill("waiting my turn", { frames: tiny.constraints.frames.default });
    await page.click("button[type=submit]");
    await page.waitForURL(/#\/jobs\//);
    mine = decodeURIComponent(page.url().split("#/jobs/")[1]!);
    const phase = page.locator("article.job .phase");
    await phase.locator("strong", { hasText: "1 job ahead" }).waitFor({ timeout: 30000 });
    assert.equal((await p.request("GET", `/v1/jobs/${mine}`)).body.queue_position, 1);
    await shot("09b-queued-behind-one");
    // The job ahead cancelled: a `position` event moves this one up, without a reload.
    assert.equal((await p.request("DELETE", `/v1/jobs/${ahead}`)).status, 202);
    await phase.locator("strong", { hasText: "next in line" }).waitFor({ timeout: 30000 });
    assert.match((await phase.textContent())!, /^Queued: next in line/);
    await shot("09c-queued-next");
    await page.click("button.danger");
    await page.locator("article.job[data-status=cancelled]").waitFor({ timeout: 30000 });
  } finally {
    for (const id of [ahead, busy]) await p.request("DELETE", `/v1/jobs/${id}`);
    for (const id of [mine, ahead, busy].filter(Boolean)) assert.equal((await p.waitForTerminal(id!)).status, "cancelled");
  }
  noProblems();
});

test("at phone width (375 px) no view scrolls sideways", async () => {
  const [done] = await jobsWithPrompt("a red square drifting");
  await page.setViewportSize({ width: 375, height: 740 });
  try {
    for (const [name, hash, ready] of [
      ["make", "#/", "#prompt"], ["job", `#/jobs/${encodeURIComponent(done.id)}`, "#result-video"], ["history", "#/history", ".gallery .card"], ["host", "#/host", ".host table"],
    ] as const) {
      await page.goto(`${p.base}/${hash}`);
      await page.locator(ready).first().waitFor();
      const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
      assert.ok(widths.scroll <= widths.inner, `${name}: ${widths.scroll} px wide at ${widths.inner}`);
      await shot(`12-phone-${name}`);
    }
  } finally {
    await page.setViewportSize({ width: 1100, height: 900 });
  }
  noProblems();
});

/** Presses Tab until the focused element matches `selector`; every stop shows a focus outline. */
async function tabTo(selector: string, visited: string[] = []): Promise<void> {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate((sel) => {
      const e = document.activeElement as HTMLElement;
      return { name: e.id || e.textContent?.trim().slice(0, 20) || e.tagName, outline: getComputedStyle(e).outlineStyle, match: e.matches(sel) };
    }, selector);
    assert.notEqual(focused.outline, "none", `${focused.name} shows where the focus is`);
    visited.push(focused.name);
    if (focused.match) return;
  }
  assert.fail(`Tab never reached ${selector}: ${visited.join(" | ")}`);
}

test("with the keyboard alone: a job is made and cancelled, the focus always visible", async () => {
  await openMake();
  const visited: string[] = [];
  await tabTo("#prompt", visited);
  await page.keyboard.type("typed, not clicked");
  await tabTo("#num-frames", visited);
  await page.keyboard.press("Control+A");
  await page.keyboard.type("65");
  await tabTo(".advanced summary", visited);
  await page.keyboard.press("Enter");
  await tabTo("#steps", visited);
  await page.keyboard.press("Control+A");
  await page.keyboard.type("1000");
  await tabTo("button[type=submit]", visited);
  for (const id of ["model", "negative-prompt", "size", "fps"]) assert.ok(visited.includes(id), `${id} is on the way: ${visited.join(" | ")}`);
  await page.keyboard.press("Enter");
  await page.waitForURL(/#\/jobs\//);
  await page.locator("button.danger").waitFor();
  await tabTo("button.danger");
  const deleted = page.waitForResponse((r) => r.request().method() === "DELETE");
  await page.keyboard.press("Enter");
  assert.ok((await deleted).ok(), "the page asked the API to cancel");
  const [job] = await jobsWithPrompt("typed, not clicked");
  assert.equal((await p.waitForTerminal(job.id)).status, "cancelled");
  await page.locator("article.job[data-status=cancelled]").waitFor({ timeout: 60000 });
  assert.deepEqual([job.params.num_frames, job.params.steps], [65, 1000]);
  await shot("13-keyboard");
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
