import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { CliExitCode, SOURCE_RECORD_FILE, SourceRecordSchema } from "@videosdgx/shared";
import { freePort, makeTempDir } from "@videosdgx/shared/testing";
import { FakeHub, sha256, type FakeRepo } from "../testing/fake-hub.js";
import { jsonLines, runCli } from "../testing/run-cli.js";

const run = promisify(execFile);
const COMMIT = "a".repeat(40);
const GEMMA_COMMIT = "b".repeat(40);
const TOKEN = "hf_accepted";

const lfs = (bytes: number) => ({ content: randomBytes(bytes), lfs: true });
const text = (s: string) => ({ content: Buffer.from(s), lfs: false });

// The catalog's real repository ids, with small files in the published layouts.
const wan: FakeRepo = {
  id: "Wan-AI/Wan2.1-T2V-14B-Diffusers",
  commit: COMMIT,
  refs: { main: COMMIT, "v1.0": COMMIT },
  files: {
    "README.md": text("# not needed by the pipeline\n"),
    "examples/i2v_input.JPG": lfs(50_000),
    "model_index.json": text('{"_class_name": "WanPipeline"}\n'),
    "scheduler/scheduler_config.json": text('{"_class_name": "UniPCMultistepScheduler"}\n'),
    "tokenizer/tokenizer.json": text('{"model": {}}\n'),
    "text_encoder/config.json": text("{}\n"),
    "text_encoder/model.safetensors": lfs(300_000),
    "transformer/config.json": text("{}\n"),
    "transformer/diffusion_pytorch_model.safetensors": lfs(1_500_000),
    "vae/config.json": text("{}\n"),
    "vae/diffusion_pytorch_model.safetensors": lfs(200_000),
  },
};
const ltx: FakeRepo = {
  id: "Lightricks/LTX-2",
  commit: COMMIT,
  refs: { main: COMMIT },
  files: Object.fromEntries(
    ["model_index.json", "scheduler/scheduler_config.json", "connectors/config.json", "transformer/config.json", "vae/config.json", "audio_vae/config.json", "vocoder/config.json"].map((p) => [p, text("{}\n")]),
  ),
};
const gemma: FakeRepo = {
  id: "google/gemma-3-12b-it",
  commit: GEMMA_COMMIT,
  refs: { main: GEMMA_COMMIT },
  gated: true,
  files: { "config.json": text("{}\n"), "model-00001-of-00001.safetensors": lfs(10_000), "tokenizer.model": lfs(1000) },
};

const wanNeeded = Object.keys(wan.files).filter((p) => !p.startsWith("README") && !p.startsWith("examples/"));
const wanBytes = wanNeeded.reduce((n, p) => n + wan.files[p]!.content.length, 0);
const BIG = "transformer/diffusion_pytorch_model.safetensors";

describe("models pull against a Hub-compatible server", () => {
  let hub: FakeHub;
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  before(async () => {
    hub = await FakeHub.start([wan, ltx, gemma]);
    hub.acceptedTokens.add(TOKEN);
    tmp = await makeTempDir("vdgx-pull");
  });
  after(async () => {
    await hub.close();
    await tmp.remove();
  });
  const env = (modelsDir: string, extra: Record<string, string> = {}) => ({ MODELS_DIR: modelsDir, DATA_DIR: tmp.dir, HF_ENDPOINT: hub.url, ...extra });

  test("a connection cut mid-file stops with where it got; the next pull downloads only the rest and moves the folder into place", async () => {
    const modelsDir = path.join(tmp.dir, "resume");
    hub.cutNext.add(BIG);
    const first = await runCli(["models", "pull", "wan21"], env(modelsDir));
    assert.equal(first.code, CliExitCode.network, first.stderr);
    assert.match(first.stderr, /download of Wan-AI\/Wan2\.1-T2V-14B-Diffusers\/transformer\/diffusion_pytorch_model\.safetensors stopped at \d+ of 1500000 bytes/);
    assert.match(first.stderr, /run the same pull again to resume/);
    assert.doesNotMatch(first.stderr, /\n\s+at /, "no stack trace");
    const partialFile = path.join(modelsDir, ".partial", "wan21", BIG);
    const kept = (await stat(partialFile)).size;
    assert.ok(kept > 0 && kept < 1_500_000, `kept ${kept} bytes`);
    await assert.rejects(stat(path.join(modelsDir, ".checkpoints", "wan21")), "nothing in place after a failed pull");

    const servedBefore = new Map(wanNeeded.map((p) => [p, hub.served(p)]));
    const second = await runCli(["models", "pull", "wan21", "--json"], env(modelsDir));
    assert.equal(second.code, 0, second.stderr);
    assert.equal(hub.served(BIG) - servedBefore.get(BIG)!, 1_500_000 - kept, "only the missing bytes are fetched again");
    for (const p of wanNeeded.filter((p) => p !== BIG && p < BIG)) {
      assert.equal(hub.served(p), servedBefore.get(p), `${p} was complete and is not fetched again`);
    }

    const events = jsonLines(second);
    assert.deepEqual([events[0]!.event, events.at(-1)!.event], ["start", "done"]);
    assert.equal(events[0]!.total_bytes, wanBytes);
    assert.ok(events.some((e) => e.event === "file" && e.path === BIG && e.resume_from === kept));
    assert.ok(events.some((e) => e.event === "progress"));

    const dest = path.join(modelsDir, ".checkpoints", "wan21");
    await assert.rejects(stat(path.join(modelsDir, ".partial", "wan21")), "the partial folder was moved, not copied");
    for (const p of wanNeeded) assert.deepEqual(await readFile(path.join(dest, p)), wan.files[p]!.content, p);
    await assert.rejects(stat(path.join(dest, "README.md")), "files the pipeline does not need are not fetched");
    const record = SourceRecordSchema.parse(JSON.parse(await readFile(path.join(dest, SOURCE_RECORD_FILE), "utf8")));
    assert.deepEqual(record.repos, [{ repo: wan.id, revision: "main", commit: COMMIT }]);
    assert.equal(record.files[BIG]!.sha256, sha256(wan.files[BIG]!.content));
    assert.equal(hub.cdnSawAuthorization, false);

    const list = await runCli(["models", "list", "--json"], env(modelsDir));
    const row = (JSON.parse(list.stdout) as { models: { name: string; installed: boolean; reason: string; checkpoint: { repos: unknown[] } | null }[] }).models.find((m) => m.name === "wan21")!;
    assert.equal(row.installed, false);
    assert.match(row.reason, /checkpoint is pulled .*export it/);
    assert.deepEqual(row.checkpoint?.repos, record.repos);

    const again = await runCli(["models", "pull", "wan21"], env(modelsDir));
    assert.equal(again.code, CliExitCode.usage);
    assert.match(again.stderr, /already pulled .* rm wan21 --checkpoint/);
  });

  test("a file that does not match its sha256 is refused, removed, and nothing is moved into place", async () => {
    const modelsDir = path.join(tmp.dir, "mismatch");
    hub.corrupt.add("vae/diffusion_pytorch_model.safetensors");
    try {
      const r = await runCli(["models", "pull", "wan21", "--revision", "v1.0"], env(modelsDir, { HF_TOKEN: TOKEN }));
      assert.equal(r.code, CliExitCode.failed, r.stderr);
      assert.match(r.stderr, /vae\/diffusion_pytorch_model\.safetensors does not match the Hub's sha256: expected [0-9a-f]{64}, got [0-9a-f]{64}/);
      assert.match(r.stderr, /nothing was moved into place/);
      await assert.rejects(stat(path.join(modelsDir, ".checkpoints", "wan21")));
      await assert.rejects(stat(path.join(modelsDir, ".partial", "wan21", "vae", "diffusion_pytorch_model.safetensors")));
    } finally {
      hub.corrupt.clear();
    }
  });

  test("a gated repository without an accepted licence names the licence page and HF_TOKEN; with the token it pulls", async () => {
    const modelsDir = path.join(tmp.dir, "gated");
    const denied = await runCli(["models", "pull", "ltx2", "--json"], env(modelsDir));
    assert.equal(denied.code, CliExitCode.denied, denied.stderr);
    const last = jsonLines(denied).at(-1) as { error: { code: string; message: string } };
    assert.equal(last.error.code, "hub_denied");
    assert.match(last.error.message, /google\/gemma-3-12b-it is gated: accept Gemma Terms of Use at https:\/\/huggingface\.co\/google\/gemma-3-12b-it/);
    assert.match(last.error.message, /HF_TOKEN is not set/);

    const wrong = await runCli(["models", "pull", "ltx2"], env(modelsDir, { HF_TOKEN: "hf_other" }));
    assert.equal(wrong.code, CliExitCode.denied);
    assert.match(wrong.stderr, /HF_TOKEN is set: make sure its account accepted the licence/);

    const ok = await runCli(["models", "pull", "ltx2"], env(modelsDir, { HF_TOKEN: TOKEN }));
    assert.equal(ok.code, 0, ok.stderr);
    const dest = path.join(modelsDir, ".checkpoints", "ltx2");
    assert.deepEqual(await readFile(path.join(dest, "text_encoder", "tokenizer.model")), gemma.files["tokenizer.model"]!.content);
    assert.ok((await readdir(path.join(dest, "vocoder"))).includes("config.json"));
  });

  test("a revision that does not exist, an unknown model, waver and an unreachable Hub each say what to do", async () => {
    const modelsDir = path.join(tmp.dir, "errors");
    const rev = await runCli(["models", "pull", "wan21", "--revision", "nope"], env(modelsDir));
    assert.equal(rev.code, CliExitCode.notFound);
    assert.match(rev.stderr, /Wan-AI\/Wan2\.1-T2V-14B-Diffusers has no revision nope: use a branch, tag or commit that exists/);

    const unknown = await runCli(["models", "pull", "sora"], env(modelsDir));
    assert.equal(unknown.code, CliExitCode.usage);
    assert.match(unknown.stderr, /unknown model "sora": known models are tiny, ltx2, wan21, magi1, waver/);

    const waver = await runCli(["models", "pull", "waver"], env(modelsDir));
    assert.equal(waver.code, CliExitCode.notFound);
    assert.match(waver.stderr, /its weights are not public/);

    const down = await runCli(["models", "pull", "wan21"], env(modelsDir, { HF_ENDPOINT: `http://127.0.0.1:${await freePort()}` }));
    assert.equal(down.code, CliExitCode.network);
    assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+ for Wan-AI\/Wan2\.1-T2V-14B-Diffusers .*ECONNREFUSED.*run the same command again/);
  });

  test("a disk too small is refused before any download, with the numbers", async (t) => {
    const modelsDir = path.join(tmp.dir, "small-disk");
    await mkdir(modelsDir, { recursive: true });
    try {
      await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", modelsDir]);
    } catch (err) {
      t.skip(`cannot mount a tmpfs here (${(err as Error).message.split("\n")[0]}): needs root`);
      return;
    }
    try {
      const served = wanNeeded.reduce((n, p) => n + hub.served(p), 0);
      const r = await runCli(["models", "pull", "wan21"], env(modelsDir));
      assert.equal(r.code, CliExitCode.noSpace, r.stderr);
      assert.match(r.stderr, /not enough disk space for wan21: it needs 2\.\d+ MB more \(2\.\d+ MB in all, 0 B already downloaded\) but the disk holding .* has [\d.]+ [KM]B free/);
      assert.equal(wanNeeded.reduce((n, p) => n + hub.served(p), 0), served, "nothing was downloaded");
    } finally {
      await run("umount", [modelsDir]);
    }
  });
});
