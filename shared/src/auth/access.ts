import { isIP } from "node:net";
import { z } from "zod";

/**
 * What a key may do. `jobs:write` submits and cancels, `jobs:read` reads jobs, videos and events (each
 * only its own key's jobs), `admin` does everything, sees every job and manages models and keys.
 */
export const SCOPES = ["jobs:write", "jobs:read", "admin"] as const;
export const ScopeSchema = z.enum(SCOPES);
export type Scope = z.infer<typeof ScopeSchema>;

/** `admin` implies every scope; the others are independent (a write-only key cannot read jobs). */
export function hasScope(scopes: readonly Scope[], needed: Scope): boolean {
  return scopes.includes("admin") || scopes.includes(needed);
}

/** Parses `jobs:write,jobs:read`: every scope known, at least one, no repeats. */
export function parseScopes(list: string): Scope[] {
  const names = list.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !ScopeSchema.safeParse(n).success);
  if (unknown.length > 0) throw new Error(`unknown scope ${unknown.join(", ")}; scopes are ${SCOPES.join(", ")}`);
  if (names.length === 0) throw new Error(`give at least one scope: ${SCOPES.join(", ")}`);
  return [...new Set(names)] as Scope[];
}

/** Only loopback addresses may serve requests without a key (nobody else can reach them). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || /^::ffff:127\./.test(h);
  return false;
}
