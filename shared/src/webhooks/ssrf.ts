import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { ValidationError } from "../errors.js";

/** IPv4-compatible IPv6 (::/96, deprecated by RFC 4291): ipaddr.js calls it unicast, yet it embeds an IPv4 address. */
const IPV4_COMPATIBLE = ipaddr.parseCIDR("::/96");

const FORBIDDEN_NAMES = /(^|\.)(localhost|internal|local|localdomain|home\.arpa)$/;

/**
 * Only ordinary public unicast space is reachable. ipaddr.js names every special-purpose range (private,
 * loopback, link-local, shared, reserved, documentation, multicast, 6to4, Teredo, NAT64, IPv4-translated
 * ...) and keeps that table up to date; anything it does not call `unicast` is refused. IPv4-mapped IPv6
 * addresses are judged as the IPv4 address they carry; IPv4-compatible ones are refused.
 */
export function isForbiddenAddress(address: string): boolean {
  if (isIP(address) === 0) return true; // not an address at all: never connect to it
  const parsed = ipaddr.process(address);
  if (parsed.kind() === "ipv6" && parsed.match(IPV4_COMPATIBLE)) return true;
  return parsed.range() !== "unicast";
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
