import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { ConfigSchema } from "@videosdgx/shared";

/** What can be checked of compose.yaml without a Docker engine: its shape, files, commands and shared settings. */
const root = fileURLToPath(new URL("../../", import.meta.url));
const composeText = readFileSync(path.join(root, "compose.yaml"), "utf8");
interface Build { context: string; dockerfile?: string; additional_contexts?: Record<string, string> }
interface Service {
  image?: string;
  build?: Build;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
}
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service> };
const services = Object.entries(compose.services);
const appServices = services.filter(([, s]) => s.volumes?.includes("data:/data"));
const configKeys = new Set(Object.keys(ConfigSchema.in.shape));
const dockerfileOf = (b: Build): string => path.join(root, b.context, b.dockerfile ?? "Dockerfile");

test("docker compose config accepts the file, for the default profile and --profile gpu", (t) => {
  const plugin = spawnSync("docker", ["compose", "version"], { encoding: "utf8" });
  if (plugin.status !== 0) return t.skip(`the docker compose plugin is not installed here (${(plugin.stderr || plugin.error?.message || "").trim().split("\n")[0]})`);
  for (const args of [[], ["--profile", "gpu"]]) {
    execFileSync("docker", ["compose", ...args, "config", "--quiet"], { cwd: root, env: { PATH: process.env.PATH ?? "" }, stdio: "pipe" });
  }
});

test("every build's context, Dockerfile and named context exists; no FROM waits for an image nothing built", () => {
  const built = new Set(services.map(([, s]) => s.image).filter(Boolean));
  for (const [name, s] of services.filter(([, s]) => s.build)) {
    const b = s.build!;
    assert.ok(existsSync(path.join(root, b.context)), `${name}: build context ${b.context}`);
    const file = dockerfileOf(b);
    assert.ok(existsSync(file), `${name}: ${file}`);
    const text = readFileSync(file, "utf8");
    const stages = new Set([...text.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]!.toLowerCase()));
    for (const [, image] of text.matchAll(/^FROM\s+(\S+)/gim)) {
      assert.ok(!built.has(image!), `${name}: ${file} starts FROM ${image}, an image of this compose file that may not exist yet`);
    }
    // COPY --from=<name> that is no stage of the file must come from a named context compose passes.
    for (const [, from] of text.matchAll(/^COPY\s+--from=(\S+)/gim)) {
      if (stages.has(from!.toLowerCase()) || /[:/]/.test(from!)) continue;
      const ctx = b.additional_contexts?.[from!];
      assert.ok(ctx, `${name}: ${file} copies from "${from}", which is no stage and no additional_contexts entry`);
      if (ctx.startsWith("service:")) {
        const other = compose.services[ctx.slice("service:".length)];
        assert.ok(other?.build, `${name}: additional context ${from} = ${ctx} names no service that builds an image`);
      } else {
        assert.ok(existsSync(path.join(root, b.context, ctx)), `${name}: additional context ${from} = ${ctx}`);
      }
    }
  }
});

test("every command and CMD runs an entry script the build produces from a source file", () => {
  const commands = services.filter(([, s]) => s.command?.[0] === "node").map(([name, s]) => [name, s.command!] as const);
  for (const file of ["infra/docker/Dockerfile", "infra/docker/Dockerfile.cuda"]) {
    const cmd = readFileSync(path.join(root, file), "utf8").match(/^CMD\s+(\[.*\])/m);
    commands.push([file, JSON.parse(cmd![1]!) as string[]]);
  }
  assert.ok(commands.length >= 6);
  for (const [name, [, script]] of commands) {
    const m = script!.match(/^(\w+)\/dist\/(.+)\.js$/);
    assert.ok(m, `${name}: ${script} is not <workspace>/dist/<file>.js`);
    const source = path.join(root, m[1]!, "src", `${m[2]}.ts`);
    assert.ok(existsSync(source), `${name}: ${script} has no source ${source}`);
    assert.match(readFileSync(path.join(root, "infra/docker/Dockerfile"), "utf8"), new RegExp(`^COPY ${m[1]} ${m[1]}$`, "m"), `${name}: the image does not copy ${m[1]}/`);
  }
});

test("every service of the host that uses the data volume gets the same HOST_ID", () => {
  assert.ok(appServices.length >= 7, appServices.map(([n]) => n).join());
  const ids = new Set(appServices.map(([name, s]) => s.environment?.HOST_ID ?? `${name}: none`));
  assert.deepEqual([...ids], ["${HOST_ID:-spark-1}"]);
});

test("PORT moves the API's listener, port mapping and healthcheck together", () => {
  const api = compose.services.api!;
  const port = api.environment?.PORT;
  assert.ok(port?.startsWith("${PORT"), `api's PORT is ${port}`);
  for (const mapping of api.ports!) assert.ok(mapping.endsWith(`:${port}`), `mapping ${mapping} does not end in the container's ${port}`);
  const health = api.healthcheck!.test.join(" ");
  assert.match(health, /process\.env\.PORT/);
  assert.doesNotMatch(health, /:8000\b/);
});

test("every variable compose sets or interpolates is one of shared's config", () => {
  for (const [name, s] of appServices) {
    for (const key of Object.keys(s.environment ?? {})) assert.ok(configKeys.has(key), `${name}: ${key} is not in shared/src/config.ts`);
  }
  for (const [, key] of composeText.matchAll(/\$\{([A-Z0-9_]+)/g)) assert.ok(configKeys.has(key!), `\${${key}} is not in shared/src/config.ts`);
});

test("the images own /data as the user they run as, so a new named volume is writable", () => {
  const files = new Set(appServices.filter(([, s]) => s.build).map(([, s]) => dockerfileOf(s.build!)));
  assert.equal(files.size, 2);
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const chown = text.search(/^RUN mkdir -p \/data\S* .*&& chown -R (1000:1000|node:node) \/data$/m);
    assert.ok(chown > 0, `${file}: no chown of /data`);
    assert.ok(chown < text.indexOf('VOLUME ["/data"]'), `${file}: /data must be made before VOLUME, whose later changes are dropped`);
    assert.match(text.slice(chown), /^USER 1000:1000$/m, file);
  }
});

test(".dockerignore keeps node_modules, builds and the data folder out of the build context", () => {
  const ignored = readFileSync(path.join(root, ".dockerignore"), "utf8").split("\n").map((l) => l.trim());
  for (const pattern of ["**/node_modules", "**/dist", "data", ".env"]) assert.ok(ignored.includes(pattern), pattern);
});
