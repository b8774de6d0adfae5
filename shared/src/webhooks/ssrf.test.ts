import assert from "node:assert/strict";
import type { LookupAddress } from "node:dns";
import { test } from "node:test";
import { createJobRequestSchema } from "../schemas/job-request.js";
import { WebhookDestinationPolicy, isForbiddenAddress, type LookupAll } from "./ssrf.js";

/** A resolver with fixed answers: stands in for DNS names that resolve to private ranges. */
const answers: Record<string, string[]> = {
  "evil.example.com": ["10.0.0.5"],
  "metadata.example.com": ["169.254.169.254"],
  "mixed.example.com": ["93.184.216.34", "127.0.0.1"],
  "v6-private.example.com": ["fd00::1"],
  "mapped.example.com": ["::ffff:192.168.0.1"],
  "cgnat.example.com": ["100.64.1.1"],
  "translated.example.com": ["::ffff:0:a00:1"],
  "public.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
};
const lookup: LookupAll = async (host) => {
  const list = answers[host];
  if (!list) throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
  return list.map((address): LookupAddress => ({ address, family: address.includes(":") ? 6 : 4 }));
};

const policy = new WebhookDestinationPolicy([]);
const check = (url: string) => policy.checkResolved(new URL(url), lookup);

const REFUSED = [
  // IPv4 in every spelling the URL parser accepts: dotted, decimal, octal, hex, short forms.
  "http://127.0.0.1/hook", "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/",
  "http://0x7f.0x0.0x0.0x1/", "http://0/", "http://0.0.0.0:8080/", "http://10.1.2.3/", "http://012.1.2.3/",
  "http://0xa.0.0.1/", "http://172.16.0.1/", "http://172.31.255.255/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/",
  "http://100.64.0.1/", "http://198.18.0.1/", "http://224.0.0.1/", "http://240.0.0.1/", "http://255.255.255.255/",
  "http://%31%32%37.0.0.1/",
  // IPv6, mapped and embedding forms.
  "http://[::1]/", "http://[::]/", "http://[0:0:0:0:0:0:0:1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/",
  "http://[::ffff:10.0.0.1]/", "http://[::ffff:169.254.169.254]/", "http://[fe80::1]/", "http://[fc00::1]/", "http://[fd12:3456::1]/",
  "http://[ff02::1]/", "http://[64:ff9b::a00:1]/", "http://[2002:7f00:1::]/", "http://[::127.0.0.1]/",
  // IPv4-translated (::ffff:0:0:0/96, RFC 6145) and the retired 6to4 relay anycast range (192.88.99.0/24).
  "http://[::ffff:0:7f00:1]/", "http://[::ffff:0:a00:1]/", "http://192.88.99.1/", "http://[::ffff:192.88.99.1]/",
  // Local and internal names.
  "http://localhost/", "http://LOCALHOST./", "http://api.localhost/", "http://metadata.google.internal/", "http://printer.local/",
  "http://router.home.arpa/",
  // Names that resolve to private, link-local, shared or mapped addresses.
  "http://evil.example.com/", "http://metadata.example.com/", "http://mixed.example.com/", "http://v6-private.example.com/",
  "http://mapped.example.com/", "http://cgnat.example.com/", "http://translated.example.com/",
  // Credentials, and a name that does not resolve.
  "http://user:pass@public.example.com/", "http://nowhere.example.com/",
];

test(`${REFUSED.length} private, local, reserved or unresolvable destinations are refused with a clear 400`, async () => {
  assert.ok(REFUSED.length >= 30);
  for (const url of REFUSED) {
    await assert.rejects(check(url), (err: Error & { status?: number; code?: string }) => {
      assert.equal(err.status, 400, url);
      assert.equal(err.code, "webhook_url_refused", url);
      assert.match(err.message, /^webhook\.url is refused: /, url);
      return true;
    }, url);
  }
});

test("public destinations pass; an allow-listed host passes although it is loopback", async () => {
  for (const url of ["https://public.example.com/hooks", "http://93.184.216.34/", "https://[2606:4700:4700::1111]/x"]) await check(url);
  await new WebhookDestinationPolicy(["127.0.0.1", "localhost"]).checkResolved(new URL("http://127.0.0.1:9000/hook"), lookup);
  await new WebhookDestinationPolicy(["localhost"]).checkResolved(new URL("http://LOCALHOST.:9000/"), lookup);
  await assert.rejects(new WebhookDestinationPolicy(["127.0.0.1"]).checkResolved(new URL("http://127.0.0.2/"), lookup));
});

test("schemes other than http and https are refused by the request schema", () => {
  const schema = createJobRequestSchema(100);
  for (const url of ["ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "javascript:alert(1)", "not a url"]) {
    const r = schema.safeParse({ model: "tiny", prompt: "x", webhook: { url } });
    assert.equal(r.success, false, url);
  }
  assert.equal(schema.safeParse({ model: "tiny", prompt: "x", webhook: { url: "https://example.com/h", events: ["completed"] } }).success, true);
});

test("the connect-time lookup refuses a name that now resolves to a private address (DNS rebinding)", async () => {
  let answer = "93.184.216.34";
  const rebinding = ((_host: string, _opts: unknown, cb: (e: Error | null, a: LookupAddress[]) => void) =>
    cb(null, [{ address: answer, family: 4 }])) as unknown as typeof import("node:dns").lookup;
  const guarded = policy.guardedLookup(rebinding);
  const resolve = () =>
    new Promise<string>((ok, fail) => guarded("rebind.example.com", {}, (err, address) => (err ? fail(err) : ok(address as string))));
  assert.equal(await resolve(), "93.184.216.34");
  answer = "127.0.0.1";
  await assert.rejects(resolve(), /refused: rebind\.example\.com resolves to 127\.0\.0\.1/);
  answer = "::ffff:10.1.1.1";
  await assert.rejects(resolve(), /refused/);
});

test("isForbiddenAddress rejects anything that is not an IP address", () => {
  assert.equal(isForbiddenAddress("example.com"), true);
  assert.equal(isForbiddenAddress("8.8.8.8"), false);
  assert.equal(isForbiddenAddress("2001:4860:4860::8888"), false);
  assert.equal(isForbiddenAddress("::ffff:8.8.8.8"), false, "an IPv4-mapped address is judged as its IPv4 address");
});
