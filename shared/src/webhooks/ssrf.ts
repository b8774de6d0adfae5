import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";
import { ValidationError } from "../errors.js";

/**
 * Address ranges a webhook must never reach: private, loopback, link-local, shared, benchmarking,
 * documentation, multicast and reserved space (IPv4-mapped IPv6 forms are matched by BlockList itself),
 * plus IPv6 forms that embed or tunnel an IPv4 address (IPv4-compatible, NAT64, 6to4, Teredo).
 */
const FORBIDDEN = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["198.51.100.0", 24],
  ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const) FORBIDDEN.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 96], ["::1", 128], ["64:ff9b::", 96], ["64:ff9b:1::", 48], ["100::", 64], ["2001::", 32], ["2001:db8::", 32],
  ["2002::", 16], ["fc00::", 7], ["fe80::", 10], ["fec0::", 10], ["ff00::", 8],
] as const) FORBIDDEN.addSubnet(net, bits, "ipv6");

const FORBIDDEN_NAMES = /(^|\.)(localhost|internal|local|localdomain|home\.arpa)$/;

export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true; // not an address at all: never connect to it
  return FORBIDDEN.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** Hosts an operator admits although they are private (`WEBHOOK_ALLOW_HOSTS`): for local receivers and tests. */
export class WebhookDestinationPolicy {
  private readonly allowed: Set<string>;

  constructor(allowHosts: readonly string[]) {
    this.allowed = new Set(allowHosts.map(normalHost));
  }

  isAllowed(host: string): boolean {
    return this.allowed.has(normalHost(host));
  }

  /** Checks the URL's host by name and, for an IP literal, by address. DNS names are checked by `resolve`. */
  checkUrl(url: URL): void {
    const host = normalHost(url.hostname);
    if (this.allowed.has(host)) return;
    if (url.username || url.password) throw refused(url, "credentials in the URL are not accepted; the payload is signed instead");
    if (isIP(host) !== 0) {
      if (isForbiddenAddress(host)) throw refused(url, `${host} is a private, loopback or reserved address`);
      return;
    }
    if (FORBIDDEN_NAMES.test(host)) throw refused(url, `${host} names a local or internal host`);
  }

  /** Resolves the host and refuses it when any address it resolves to is forbidden (submit-time check). */
  async checkResolved(url: URL, lookup: LookupAll = lookupAll): Promise<void> {
    this.checkUrl(url);
    const host = normalHost(url.hostname);
    if (this.allowed.has(host) || isIP(host) !== 0) return;
    let addresses: LookupAddress[];
    try {
      addresses = await lookup(host);
    } catch (err) {
      throw refused(url, `${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    const bad = addresses.find((a) => isForbiddenAddress(a.address));
    if (bad) throw refused(url, `${host} resolves to ${bad.address}, a private, loopback or reserved address`);
  }

  /**
   * A `lookup` for http.request: every address a connection is about to use is checked inside the
   * connection's own DNS resolution, so a name that resolved to a public address at submit time and to a
   * private one now (DNS rebinding) is refused.
   */
  guardedLookup(resolve: typeof dnsLookup = dnsLookup): typeof dnsLookup {
    const guarded = (hostname: string, options: unknown, callback: unknown) => {
      const cb = (typeof options === "function" ? options : callback) as (err: Error | null, address?: unknown, family?: number) => void;
      const opts = (typeof options === "object" && options !== null ? options : {}) as { all?: boolean };
      resolve(hostname, { ...opts, all: true }, (err, addresses) => {
        if (err) return cb(err);
        const list = addresses as LookupAddress[];
        if (!this.isAllowed(hostname)) {
          const bad = list.find((a) => isForbiddenAddress(a.address));
          if (bad) return cb(Object.assign(new Error(`refused: ${hostname} resolves to ${bad.address}, a private, loopback or reserved address`), { code: "EWEBHOOKFORBIDDEN" }));
        }
        if (opts.all) return cb(null, list);
        cb(null, list[0]!.address, list[0]!.family);
      });
    };
    return guarded as unknown as typeof dnsLookup;
  }
}

export type LookupAll = (host: string) => Promise<LookupAddress[]>;

const lookupAll: LookupAll = (host) =>
  new Promise((resolve, reject) => dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

/** Lower case, no brackets around IPv6, no trailing root dot: one spelling per host. */
function normalHost(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
}

function refused(url: URL, why: string): ValidationError {
  return new ValidationError(`webhook.url is refused: ${why}`, [{ field: "webhook.url", message: why, url: url.href }], "webhook_url_refused");
}
