import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { ConfigSchema } from "@videosdgx/shared";
import { DASHBOARD_FILE, prometheusConfig } from "./monitoring/files.js";

/** What can be checked of compose.yaml without a Docker engine: its shape, files, commands and shared settings. */
const root = fileURLToPath(new URL("../../", import.meta.url));
const composeText = readFileSync(path.join(root, "compose.yaml"), "utf8");
interface Build { context: string; dockerfile?: string; additional_contexts?: Record<string, string> }
interface Service {
  image?: string;
  profiles?: string[];
  secrets?: string[];
  build?: Build;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
}
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service>; secrets?: Record<string, { environment?: string; file?: string }> };
const services = Object.entries(compose.services);
const appServices = services.filter(([, s]) => s.volumes?.includes("data:/data"));
const configKeys = new Set(Object.keys(ConfigSchema.in.shape));
const dockerfileOf = (b: Build): string => path.join(root, b.context, b.dockerfile ?? "Dockerfile");

test("docker compose config accepts the file, for the default profile and each of the others", (t) => {
  const plugin = spawnSync("docker", ["compose", "version"], { encoding: "utf8" });
  if (plugin.status !== 0) return t.skip(`the docker compose plugin is not installed here (${(plugin.stderr || plugin.error?.message || "").trim().split("\n")[0]})`);
  for (const args of [[], ["--profile", "gpu"], ["--profile", "monitoring"], ["--profile", "worker-host"], ["--profile", "worker-host-gpu"]]) {
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

/** The worker-only hosts (README "Two hosts"): CPU, and the CUDA image with the GPU. */
const WORKER_HOSTS = ["worker-host", "worker-host-gpu"];

test("every service of the host that uses the data volume gets the same HOST_ID; the worker-only hosts their own", () => {
  const firstHost = appServices.filter(([name]) => !WORKER_HOSTS.includes(name));
  assert.ok(firstHost.length >= 7, firstHost.map(([n]) => n).join());
  const ids = new Set(firstHost.map(([name, s]) => s.environment?.HOST_ID ?? `${name}: none`));
  assert.deepEqual([...ids], ["${HOST_ID:-spark-1}"]);
  for (const name of WORKER_HOSTS) assert.equal(compose.services[name]!.environment?.HOST_ID, "${HOST_ID:-spark-2}", name);
});

test("each worker-only host runs the launcher with ROLES=workers against another host's Redis, in a profile of its own, and starts no Redis", () => {
  for (const name of WORKER_HOSTS) {
    const host = compose.services[name] as Service & { profiles?: string[]; depends_on?: Record<string, unknown> };
    assert.deepEqual(host.profiles, [name], `${name}: its own profile, so starting one never starts the other`);
    assert.deepEqual(host.command, ["node", "infra/dist/start.js"], name);
    assert.equal(host.environment?.ROLES, "workers", name);
    assert.deepEqual(ConfigSchema.parse({ ROLES: host.environment!.ROLES }).ROLES, ["workers"]);
    assert.match(host.environment?.REDIS_URL ?? "", /^\$\{REDIS_URL:-redis:\/\/(?!redis:)/, `${name}: not this compose file's own redis service`);
    assert.deepEqual(Object.keys(host.depends_on ?? {}), ["models-init"], `${name}: no dependency on the local redis service`);
  }
});

test("the GPU worker-only host is a GPU worker: the CUDA image, the GPU reserved, CUDA first", () => {
  type GpuService = Service & { deploy?: { resources?: { reservations?: { devices?: { capabilities?: string[] }[] } } } };
  const gpu = compose.services["worker-host-gpu"] as GpuService;
  const gpuWorker = compose.services["worker-ltx2"] as GpuService;
  assert.deepEqual([gpu.image, gpu.build], [gpuWorker.image, gpuWorker.build], "the image the gpu profile's workers run");
  assert.deepEqual(gpu.deploy, gpuWorker.deploy);
  assert.ok(gpu.deploy?.resources?.reservations?.devices?.some((d) => d.capabilities?.includes("gpu")));
  assert.equal(gpu.environment?.ORT_EXECUTION_PROVIDERS, "cuda,cpu");
  assert.deepEqual(ConfigSchema.parse({ ORT_EXECUTION_PROVIDERS: gpu.environment!.ORT_EXECUTION_PROVIDERS }).ORT_EXECUTION_PROVIDERS, ["cuda", "cpu"]);
  // The rest of its environment is the CPU worker-only host's.
  const { ORT_EXECUTION_PROVIDERS: _, ...rest } = gpu.environment!;
  assert.deepEqual(rest, compose.services["worker-host"]!.environment);
});

test("compose's Redis is published on port 6379 at REDIS_BIND, loopback unless set, where other hosts' REDIS_URL points", () => {
  const ports = compose.services.redis!.ports ?? [];
  assert.deepEqual(ports, ["${REDIS_BIND:-127.0.0.1}:6379:6379"]);
  assert.ok(documented("REDIS_BIND"), "REDIS_BIND is in .env.example");
  assert.match(envExample, /^REDIS_BIND=127\.0\.0\.1$/m, ".env.example keeps the loopback default");
  const url = /^\$\{REDIS_URL:-(.+)\}$/.exec(compose.services["worker-host"]!.environment!.REDIS_URL!)![1]!;
  assert.equal(new URL(url).port || "6379", ports[0]!.split(":").at(-2), "the worker-only host's default REDIS_URL uses the published port");
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

const envExample = readFileSync(path.join(root, ".env.example"), "utf8");
const documented = (key: string) => new RegExp(`^#? ?${key}=`, "m").test(envExample);

test("every variable compose sets or interpolates for the platform is one of shared's config; the others are in .env.example", () => {
  for (const [name, s] of appServices) {
    for (const key of Object.keys(s.environment ?? {})) assert.ok(configKeys.has(key), `${name}: ${key} is not in shared/src/config.ts`);
  }
  const interpolated = (text: string) => [...text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!);
  const appText = JSON.stringify(appServices);
  for (const key of interpolated(appText)) assert.ok(configKeys.has(key), `\${${key}} is not in shared/src/config.ts`);
  // Monitoring's own settings (ports, Grafana's password, the key Prometheus sends) are compose's, not the platform's.
  for (const key of interpolated(composeText)) assert.ok(configKeys.has(key) || documented(key), `\${${key}} is neither shared config nor in .env.example`);
  for (const [name, secret] of Object.entries(compose.secrets ?? {})) {
    if (secret.environment) assert.ok(documented(secret.environment), `secret ${name}: ${secret.environment} is not in .env.example`);
  }
});

const monitoring = services.filter(([, s]) => s.profiles?.includes("monitoring"));
const mounts = (s: Service) => (s.volumes ?? []).map((v) => v.split(":")).map(([source, target, mode]) => ({ source: source!, target: target!, mode }));

test("the monitoring profile: pinned images, files that exist, mounted read-only", () => {
  assert.deepEqual(monitoring.map(([n]) => n).sort(), ["grafana", "prometheus"]);
  for (const [name, s] of monitoring) {
    assert.match(s.image ?? "", /^[\w./-]+:v?\d+\.\d+\.\d+$/, `${name}: image ${s.image} is not pinned to a version`);
    const files = mounts(s).filter((m) => m.source.startsWith("./"));
    assert.ok(files.length > 0, `${name} mounts its configuration`);
    for (const m of files) {
      assert.ok(existsSync(path.join(root, m.source)), `${name}: ${m.source} does not exist`);
      assert.equal(m.mode, "ro", `${name}: ${m.source} is mounted writable`);
    }
    for (const port of s.ports ?? []) assert.match(port, /^127\.0\.0\.1:/, `${name}: ${port} is not bound to loopback`);
  }
});

test("Prometheus scrapes the api service on its port, with the secret compose mounts", () => {
  const [job] = prometheusConfig().scrape_configs;
  const [target] = job!.static_configs[0]!.targets;
  const api = compose.services.api!;
  const port = /^\$\{PORT:-(\d+)\}$/.exec(api.environment!.PORT!)?.[1];
  assert.equal(target, `api:${port}`, "the compose service api on the port it listens on");
  assert.equal(Number(port), ConfigSchema.parse({}).PORT, "the API's default PORT");
  const prometheus = compose.services.prometheus!;
  assert.equal(job!.authorization?.credentials_file, `/run/secrets/${prometheus.secrets![0]}`, "the key is the secret compose mounts");
  assert.ok(compose.secrets?.[prometheus.secrets![0]!], "the secret is declared");
  const config = mounts(prometheus).find((m) => m.source === "./infra/monitoring/prometheus.yml");
  assert.equal(config?.target, "/etc/prometheus/prometheus.yml");
  assert.ok(prometheus.command?.includes(`--config.file=${config!.target}`));
});

test("Grafana gets the datasource and the dashboard the provisioning files name", () => {
  const grafana = compose.services.grafana!;
  const m = mounts(grafana);
  const provisioning = m.find((x) => x.target === "/etc/grafana/provisioning")!;
  const dashboards = m.find((x) => path.join(root, x.source) === path.dirname(DASHBOARD_FILE))!;
  assert.ok(provisioning && dashboards, "provisioning and dashboards are mounted");
  const dir = path.join(root, provisioning.source);
  const datasource = parse(readFileSync(path.join(dir, "datasources/prometheus.yml"), "utf8")).datasources[0];
  const prometheusPort = compose.services.prometheus!.ports![0]!.split(":").at(-1);
  assert.equal(datasource.url, `http://prometheus:${prometheusPort}`);
  const provider = parse(readFileSync(path.join(dir, "dashboards/videosdgx.yml"), "utf8")).providers[0];
  assert.equal(provider.options.path, dashboards.target);
  assert.equal(grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, path.posix.join(dashboards.target, path.basename(DASHBOARD_FILE)));
  // Every panel and variable queries the provisioned datasource.
  const uids = new Set([...readFileSync(DASHBOARD_FILE, "utf8").matchAll(/"uid": "([^"]+)"/g)].map((x) => x[1]).filter((u) => u !== "videosdgx"));
  assert.deepEqual([...uids], [datasource.uid]);
  assert.equal(grafana.environment?.GF_AUTH_ANONYMOUS_ORG_ROLE, "Viewer");
  assert.match(grafana.environment?.GF_SECURITY_ADMIN_PASSWORD ?? "", /^\$\{GRAFANA_ADMIN_PASSWORD/);
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
