import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { freePort, spawnNode, waitFor } from "@videosdgx/shared/testing";
import { API_MAIN } from "../entry-points.js";
import { Platform } from "./platform.js";

// Small limits so each can be reached with a few requests; a long key cache, so only the pub/sub
// invalidation can make a revocation visible within the test. No worker runs: jobs stay queued.
let p: Platform;
before(async () => {
  p = await Platform.start({
    env: { RATE_LIMIT_PER_MINUTE: "1", RATE_LIMIT_BURST: "2", MAX_QUEUED_PER_MODEL: "3", API_KEY_CACHE_SECONDS: "3600" },
    extraTinyModels: ["ratelim", "capped", "paged"],
  });
});
after(() => p?.stop());

type Key = Awaited<ReturnType<Platform["createKey"]>>;
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });
const JOB = { model: "tiny", prompt: "a lighthouse", width: 64, height: 64, num_frames: 5, steps: 2, seed: 3 };
/** Well-formed but past authorization only: a 400 proves the guard let the request through without creating a job. */
const INVALID_JOB = { model: "tiny", prompt: "x", num_frames: 18 };

/** Status and headers only: an event stream never ends by itself, so the body is dropped. */
async function probe(method: string, url: string, headers: Record<string, string>, body?: unknown) {
  const abort = new AbortController();
  const res = await fetch(`${p.base}${url}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: abort.signal,
  });
  const json = (res.headers.get("content-type") ?? "").includes("application/json") ? await res.json() : undefined;
  abort.abort();
  return { status: res.status, headers: res.headers, body: json as any };
}

const keys: Record<string, Key> = {};

test("without any key, a loopback API serves requests without one, as admin", async () => {
  for (const url of ["/v1/jobs", "/metrics", "/admin/queues", "/v1/keys"]) {
    assert.equal((await probe("GET", url, {})).status, 200, url);
  }
  assert.deepEqual((await p.request("GET", "/v1/keys")).body, { keys: [] });
});

test("once a key exists (made by the CLI), a request without one is 401 with a challenge", async () => {
  for (const [name, scopes] of [["read", "jobs:read"], ["write", "jobs:write"], ["admin", "admin"], ["revoked", "jobs:read,jobs:write,admin"]] as const) {
    keys[name] = await p.createKey(scopes, name);
  }
  const res = await probe("GET", "/v1/jobs", {});
  assert.equal(res.status, 401);
  assert.equal(res.body.error.code, "unauthorized");
  assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="VideosDGX", Basic realm="VideosDGX"/);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff", "security headers on 401 too");
  assert.equal(res.headers.get("content-security-policy")?.includes("frame-ancestors 'none'"), true);
});

test("a revoked key stops working at once, although the API caches lookups for an hour", async () => {
  const key = keys.revoked!;
  assert.equal((await probe("GET", "/v1/jobs", bearer(key.key))).status, 200, "cached as valid");
  const { code, output } = await p.keysCli(["revoke", key.id]);
  assert.equal(code, 0, output);
  assert.match(output, new RegExp(`revoked: ${key.id}  revoked `));
  const res = await waitFor("the revoked key to be refused", async () => {
    const r = await probe("GET", "/v1/jobs", bearer(key.key));
    return r.status === 401 ? r : undefined;
  }, 5000);
  assert.match(res.body.error.message, /was revoked/);
  const listed = await p.keysCli(["list"]);
  assert.match(listed.output, new RegExp(`${key.id}  revoked `));
  assert.match(listed.output, new RegExp(`${keys.read!.id}  active  jobs:read  `));
  assert.ok(!listed.output.includes(keys.read!.key.slice(18)), "list never shows a key");
});

test("auth matrix: every route x {no key, wrong key, revoked key, jobs:read, jobs:write, admin}", async (t) => {
  const target = await p.request("POST", "/v1/jobs", JOB, bearer(keys.admin!.key));
  assert.equal(target.status, 202, JSON.stringify(target.body));
  const J = target.body.id as string;

  const columns: Record<string, Record<string, string>> = {
    "no key": {},
    "wrong key": bearer(`vdgx_0123456789ab_${"A".repeat(43)}`),
    "revoked key": bearer(keys.revoked!.key),
    "jobs:read": bearer(keys.read!.key),
    "jobs:write": bearer(keys.write!.key),
    admin: bearer(keys.admin!.key),
  };
  // Expected status per column; the job J belongs to the admin key, so other keys get 404 where their scope allows.
  const rows: { route: string; body?: unknown; expect: [number, number, number, number, number, number] }[] = [
    { route: "GET /healthz", expect: [200, 200, 200, 200, 200, 200] },
    { route: "GET /readyz", expect: [503, 503, 503, 503, 503, 503] }, // open; not ready as no worker runs
    { route: "GET /metrics", expect: [401, 401, 401, 403, 403, 200] },
    { route: "GET /openapi.json", expect: [401, 401, 401, 200, 200, 200] },
    { route: "GET /docs/", expect: [401, 401, 401, 200, 200, 200] },
    { route: "GET /admin/queues", expect: [401, 401, 401, 403, 403, 200] },
    { route: "GET /v1/models", expect: [401, 401, 401, 200, 200, 200] },
    { route: "GET /v1/models/tiny", expect: [401, 401, 401, 200, 200, 200] },
    { route: "GET /v1/hosts", expect: [401, 401, 401, 200, 200, 200] },
    { route: "POST /v1/models/tiny/load", expect: [401, 401, 401, 403, 403, 503] }, // 503: no worker to load it
    { route: "POST /v1/models/tiny/unload", expect: [401, 401, 401, 403, 403, 503] },
    { route: "POST /v1/models/tiny/generate", body: { prompt: "x", duration: 500 }, expect: [401, 401, 401, 403, 400, 400] },
    { route: "POST /v1/jobs", body: INVALID_JOB, expect: [401, 401, 401, 403, 400, 400] },
    { route: "GET /v1/jobs", expect: [401, 401, 401, 200, 403, 200] },
    { route: `GET /v1/jobs/${J}`, expect: [401, 401, 401, 404, 403, 200] },
    { route: `GET /v1/jobs/${J}/video`, expect: [401, 401, 401, 404, 403, 409] }, // 409: not completed
    { route: `GET /v1/jobs/${J}/poster.jpg`, expect: [401, 401, 401, 404, 403, 404] }, // 404: no poster before completion
    { route: `GET /v1/jobs/${J}/preview.jpg`, expect: [401, 401, 401, 404, 403, 404] }, // 404: no preview (never ran)
    { route: `GET /v1/jobs/${J}/events`, expect: [401, 401, 401, 404, 403, 200] },
    { route: "GET /v1/keys", expect: [401, 401, 401, 403, 403, 200] },
    { route: "POST /v1/keys", body: { scopes: ["jobs:read"], name: "matrix" }, expect: [401, 401, 401, 403, 403, 201] },
    { route: "DELETE /v1/keys/000000000000", expect: [401, 401, 401, 403, 403, 404] },
    { route: `POST /v1/jobs/${J}/webhook/redeliver`, body: {}, expect: [401, 401, 401, 403, 404, 409] }, // 409: J has no webhook
    { route: `POST /v1/jobs/${J}/retry`, expect: [401, 401, 401, 403, 404, 409] }, // 409: J is queued, not failed
    { route: `DELETE /v1/jobs/${J}`, expect: [401, 401, 401, 403, 404, 202] },
  ];

  // Every route the API documents is in the matrix (plus the docs page and the dashboard).
  const spec = (await p.request("GET", "/openapi.json", undefined, columns.admin)).body;
  const documented = Object.entries(spec.paths as Record<string, object>).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
  );
  const covered = new Set(rows.map((r) => r.route.replace(J, "{id}").replace("/tiny", "/{model}").replace("000000000000", "{id}")));
  assert.deepEqual(documented.filter((r) => !covered.has(r)), [], "routes missing from the matrix");

  const seen: string[] = [`${"route".padEnd(44)} ${Object.keys(columns).map((c) => c.padStart(11)).join(" ")}`];
  const mismatches: string[] = [];
  for (const row of rows) {
    const [method, url] = row.route.split(" ") as [string, string];
    const statuses: number[] = [];
    for (const [column, headers] of Object.entries(columns)) {
      // Every column gets its own body: a created key is created once, by the admin column only.
      const res = await probe(method, url, headers, row.body);
      statuses.push(res.status);
      if (res.status === 401) assert.match(res.headers.get("www-authenticate") ?? "", /Bearer/, `${row.route} ${column}`);
      if (res.status === 401 || res.status === 403) {
        assert.equal(res.body?.error?.code, res.status === 401 ? "unauthorized" : "forbidden", `${row.route} ${column}`);
      }
      assert.equal(res.headers.get("x-frame-options"), "DENY", `security headers on ${row.route} ${column}`);
    }
    seen.push(`${row.route.replace(J, "{id}").padEnd(44)} ${statuses.map((s) => String(s).padStart(11)).join(" ")}`);
    if (statuses.join() !== row.expect.join()) mismatches.push(`${row.route}: got ${statuses.join()} expected ${row.expect.join()}`);
  }
  for (const line of seen) t.diagnostic(line);
  assert.deepEqual(mismatches, []);
});

test("the dashboard and the docs take the key as HTTP Basic credentials, for browsers", async () => {
  assert.equal((await probe("GET", "/admin/queues", basic("me", keys.admin!.key))).status, 200);
  assert.equal((await probe("GET", "/admin/queues", basic(keys.admin!.key, ""))).status, 200, "key as user name, curl -u key: style");
  assert.equal((await probe("GET", "/admin/queues", basic("me", keys.read!.key))).status, 403);
  assert.equal((await probe("GET", "/docs/", basic("me", keys.read!.key))).status, 200);
  const wrong = await probe("GET", "/docs/", basic("me", "not-a-key"));
  assert.equal(wrong.status, 401);
  assert.match(wrong.headers.get("www-authenticate") ?? "", /Basic realm="VideosDGX"/);
});

test("a key sees only its own jobs; the same Idempotency-Key from two keys is two requests", async () => {
  const a = await p.createKey("jobs:read,jobs:write", "a");
  const b = await p.createKey("jobs:read,jobs:write", "b");
  const idem = { "idempotency-key": "same-key-for-both" };
  const ja = await p.request("POST", "/v1/jobs", JOB, { ...bearer(a.key), ...idem });
  const jb = await p.request("POST", "/v1/jobs", JOB, { ...bearer(b.key), ...idem });
  assert.deepEqual([ja.status, jb.status], [202, 202]);
  assert.notEqual(ja.body.id, jb.body.id, "b did not get a's job");
  const repeat = await p.request("POST", "/v1/jobs", JOB, { ...bearer(b.key), ...idem });
  assert.deepEqual([repeat.status, repeat.body.id], [200, jb.body.id]);
  assert.equal("owner" in ja.body.params, false, "the owner is stored beside the params, not shown in them");

  const own = await p.request("GET", `/v1/jobs/${ja.body.id}`, undefined, bearer(a.key));
  assert.equal(own.status, 200);
  assert.equal(own.body.params.prompt, JOB.prompt);
  const missing = await p.request("GET", "/v1/jobs/tiny-00000000-0000-0000-0000-000000000000", undefined, bearer(a.key));
  for (const [method, suffix] of [["GET", ""], ["GET", "/video"], ["GET", "/poster.jpg"], ["GET", "/preview.jpg"], ["GET", "/events"], ["DELETE", ""], ["POST", "/retry"]] as const) {
    const other = await p.request(method, `/v1/jobs/${jb.body.id}${suffix}`, undefined, bearer(a.key));
    assert.equal(other.status, 404, `${method} another key's job${suffix}`);
    assert.equal(other.body.error.code, missing.body.error.code, "indistinguishable from a job that does not exist");
  }

  const ids = async (headers: Record<string, string>, query = "") =>
    ((await p.request("GET", `/v1/jobs${query}`, undefined, headers)).body.jobs as { id: string }[]).map((j) => j.id);
  assert.deepEqual(await ids(bearer(a.key)), [ja.body.id]);
  assert.deepEqual(await ids(bearer(b.key)), [jb.body.id]);
  assert.deepEqual(await ids(bearer(a.key), "?status=queued&model=tiny"), [ja.body.id]);
  assert.deepEqual(await ids(bearer(a.key), "?status=completed"), []);
  assert.deepEqual(await ids(bearer(a.key), "?model=capped"), []);
  const all = await ids(bearer(keys.admin!.key), "?model=tiny");
  assert.ok(all.includes(ja.body.id) && all.includes(jb.body.id), "an admin key sees every job");
});

test("GET /v1/jobs pages per key: each key's pages hold only its own jobs, in order, to the end", async () => {
  // This file's limits allow two submissions per key; a second API on the same Redis and keys admits more.
  const port = String(await freePort());
  const roomy = spawnNode("api-roomy", API_MAIN, { ...p.env, PORT: port, RATE_LIMIT_BURST: "20", MAX_QUEUED_PER_MODEL: "20" });
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`the second API to answer\n${roomy.output}`, () => fetch(`${base}/healthz`).then((r) => r.ok || undefined, () => undefined), 20000);
    const call = async (key: Key, method: string, url: string, body?: unknown) => {
      const res = await fetch(`${base}${url}`, {
        method,
        headers: { ...bearer(key.key), ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const a = await p.createKey("jobs:read,jobs:write", "pager-a");
    const b = await p.createKey("jobs:read,jobs:write", "pager-b");
    const made: Record<string, string[]> = { [a.id]: [], [b.id]: [] };
    // Interleaved, so that one list of every job would mix the two keys on each page.
    for (let i = 0; i < 5; i++) {
      for (const key of [a, b]) {
        const res = await call(key, "POST", "/v1/jobs", { ...JOB, model: "paged", seed: i });
        assert.equal(res.status, 202, JSON.stringify(res.body));
        made[key.id]!.push(res.body.id);
      }
    }
    for (const [key, other] of [[a, b], [b, a]] as const) {
      const seen: string[] = [];
      let before: string | undefined;
      let pages = 0;
      do {
        const res = await call(key, "GET", `/v1/jobs?model=paged&limit=2${before ? `&before=${before}` : ""}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const ids = (res.body.jobs as { id: string }[]).map((j) => j.id);
        assert.ok(ids.length <= 2);
        for (const id of ids) assert.ok(!made[other.id]!.includes(id), `page ${pages} of ${key.id} holds ${other.id}'s job ${id}`);
        seen.push(...ids);
        before = res.body.next_before;
        pages++;
      } while (before && pages < 10);
      assert.deepEqual(seen, [...made[key.id]!].reverse(), "every own job once, newest first");
      assert.equal(pages, 3, "pages of 2, 2 and 1");
      // Another key's job is no cursor here: the page it would start is not shown.
      const foreign = await call(key, "GET", `/v1/jobs?model=paged&limit=2&before=${made[other.id]![2]}`);
      assert.equal(foreign.status, 400);
      assert.equal(foreign.body.error.details[0].field, "before");
      // With a status filter too, pages stay the key's own.
      const queued = await call(key, "GET", `/v1/jobs?status=queued&limit=3&before=${made[key.id]![4]}`);
      assert.deepEqual((queued.body.jobs as { id: string }[]).map((j) => j.id), [...made[key.id]!].reverse().slice(1, 4));
    }
  } finally {
    await roomy.stop();
  }
});

const limitedJobs: string[] = [];
test("a key over its rate limit gets 429 rate_limited with Retry-After", async () => {
  const limited = await p.createKey("jobs:read,jobs:write", "limited");
  keys.limited = limited;
  const body = { ...JOB, model: "ratelim" };
  for (let i = 0; i < 2; i++) {
    const res = await p.request("POST", "/v1/jobs", body, bearer(limited.key));
    assert.equal(res.status, 202);
    limitedJobs.push(res.body.id);
  }
  const res = await p.request("POST", "/v1/jobs", body, bearer(limited.key));
  assert.equal(res.status, 429, JSON.stringify(res.body));
  assert.equal(res.body.error.code, "rate_limited");
  assert.deepEqual(res.body.error.details, { per_minute: 1, burst: 2 });
  const retryAfter = Number(res.headers.get("retry-after"));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  const other = await p.createKey("jobs:write", "other");
  assert.equal((await p.request("POST", "/v1/jobs", body, bearer(other.key))).status, 202, "other keys are not limited by it");
  // A webhook redelivery spends from the same bucket: refused before the job is even looked at.
  const redeliver = await p.request("POST", `/v1/jobs/${limitedJobs[0]}/webhook/redeliver`, {}, bearer(limited.key));
  assert.equal(redeliver.status, 429, JSON.stringify(redeliver.body));
  assert.equal(redeliver.body.error.code, "rate_limited");
  assert.ok(Number(redeliver.headers.get("retry-after")) >= 1);
});

test("a model with MAX_QUEUED_PER_MODEL jobs waiting answers 429 queue_full with Retry-After, on both submit routes", async () => {
  const [one, two] = [await p.createKey("jobs:write", "cap1"), await p.createKey("jobs:write", "cap2")];
  const body = { ...JOB, model: "capped" };
  assert.equal((await p.request("POST", "/v1/jobs", body, bearer(one.key))).status, 202);
  assert.equal((await p.request("POST", "/v1/jobs", body, bearer(one.key))).status, 202);
  assert.equal((await p.request("POST", "/v1/models/capped/generate", { prompt: "x" }, bearer(two.key))).status, 202);
  for (const res of [
    await p.request("POST", "/v1/jobs", body, bearer(two.key)),
    await p.request("POST", "/v1/models/capped/generate", { prompt: "x" }, bearer(two.key)),
  ]) {
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "queue_full");
    assert.deepEqual(res.body.error.details, { model: "capped", queued: 3, max_queued: 3 });
    assert.equal(res.headers.get("retry-after"), "5");
  }
});

test("on a non-loopback HOST the API refuses to start without keys, and starts (keys required) with them", async () => {
  const port = String(await freePort());
  const bare = spawnNode("api-open", API_MAIN, { ...p.env, HOST: "0.0.0.0", PORT: port, QUEUE_PREFIX: "e2e-nokeys" });
  const { code } = await bare.exited;
  assert.equal(code, 2, bare.output);
  assert.match(bare.output, /HOST=0\.0\.0\.0 is not a loopback address and no API key exists/);
  assert.match(bare.output, /npm run keys -- create --scope admin/);

  const keyed = spawnNode("api-keyed", API_MAIN, { ...p.env, HOST: "0.0.0.0", PORT: port });
  try {
    const url = `http://127.0.0.1:${port}/v1/models`;
    const first = await waitFor(`the API on 0.0.0.0 to answer\n${keyed.output}`, () => fetch(url).catch(() => undefined), 20000);
    assert.equal(first.status, 401);
    assert.equal((await fetch(url, { headers: bearer(keys.read!.key) })).status, 200);
  } finally {
    await keyed.stop();
  }
});

test("a worker runs a key's job; its video is served to that key only", async () => {
  await p.startWorker("ratelim");
  const owner = bearer(keys.limited!.key);
  const done = await waitFor("the limited key's first job to complete", async () => {
    const r = await p.request("GET", `/v1/jobs/${limitedJobs[0]}`, undefined, owner);
    return r.body.status === "completed" ? r.body : undefined;
  }, 120000);
  assert.deepEqual(Object.keys(done.params).sort(), Object.keys(JOB).concat("fps", "duration_s", "guidance", "negative_prompt").sort());
  const video = await p.request("GET", done.result.video_url, undefined, owner);
  assert.equal(video.status, 200);
  assert.equal((video.body as Buffer).length, done.result.bytes);
  assert.equal((await p.request("GET", done.result.video_url, undefined, bearer(keys.read!.key))).status, 404);
});

// Last: it revokes every key.
test("revoking every key does not bring anonymous admin access back", async () => {
  const listed = await p.request("GET", "/v1/keys", undefined, bearer(keys.admin!.key));
  const active = (listed.body.keys as { id: string; revoked_at?: string }[]).filter((k) => !k.revoked_at);
  assert.ok(active.length > 0);
  for (const k of active) assert.equal((await p.keysCli(["revoke", k.id])).code, 0);
  const res = await waitFor("the admin key to be refused", async () => {
    const r = await probe("GET", "/v1/keys", bearer(keys.admin!.key));
    return r.status === 401 ? r : undefined;
  });
  assert.match(res.body.error.message, /was revoked/);
  for (const url of ["/v1/jobs", "/metrics", "/v1/keys"]) assert.equal((await probe("GET", url, {})).status, 401, url);
});
