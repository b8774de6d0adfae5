import type { Request, RequestHandler, Response } from "express";
import { ALL_JOBS, ForbiddenError, UnauthorizedError, hasScope, type JobScope, type Scope } from "@videosdgx/shared";
import type { KeyLookups } from "../services/key-lookups.js";

/** Who may call a route: anyone (`public`), any valid key (`any`), or a key with this scope. */
export type Access = "public" | "any" | Scope;

/** The caller of a request, once authenticated. */
export interface Principal {
  /** The API key's id; undefined for an anonymous caller (loopback HOST, no key configured). */
  keyId: string | undefined;
  scopes: readonly Scope[];
}

const ANONYMOUS: Principal = { keyId: undefined, scopes: ["admin"] };

/** The key in `Authorization: Bearer <key>`, or in Basic credentials (as the password, or as the user with none). */
function presentedKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const [scheme = "", value = ""] = header.trim().split(/\s+/, 2);
  if (/^bearer$/i.test(scheme)) return value;
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const [user, password] = colon < 0 ? [decoded, ""] : [decoded.slice(0, colon), decoded.slice(colon + 1)];
    return password || user;
  }
  return "";
}

export function principalOf(res: Response): Principal {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new Error("route without an access guard asked for its caller");
  return p;
}

/** Which jobs the caller sees: admins every job, everyone else only the jobs of their own key. */
export function jobScopeOf(res: Response): JobScope {
  const p = principalOf(res);
  return hasScope(p.scopes, "admin") || p.keyId === undefined ? ALL_JOBS : { owner: p.keyId };
}

/**
 * Checks the caller's key against a route's access. Until a key is created, a loopback API accepts
 * requests without one as an admin (one local user); from the first key on, every caller needs one, for
 * good: revoking every key must not reopen anonymous admin access.
 */
export class Authenticator {
  constructor(private readonly keys: KeyLookups, private readonly loopback: boolean) {}

  private async authenticate(req: Request): Promise<Principal> {
    const key = presentedKey(req.get("authorization"));
    if (key === undefined) {
      if (this.loopback && !(await this.keys.anyCreated())) return ANONYMOUS;
      throw new UnauthorizedError("this API needs a key: send Authorization: Bearer <key> (an admin creates keys with `npm run keys -- create`)");
    }
    const record = key ? await this.keys.verify(key) : undefined;
    if (!record) throw new UnauthorizedError("the API key is not valid");
    if (record.revoked_at) throw new UnauthorizedError(`the API key ${record.id} was revoked at ${record.revoked_at}`);
    return { keyId: record.id, scopes: record.scopes };
  }

  guard(access: Access): RequestHandler {
    if (access === "public") return (_req, _res, next) => next();
    return async (req, res, next) => {
      const principal = await this.authenticate(req);
      if (access !== "any" && !hasScope(principal.scopes, access)) {
        throw new ForbiddenError(`this route needs the ${access} scope; the key has ${principal.scopes.join(", ")}`, { needed: access });
      }
      res.locals.principal = principal;
      next();
    };
  }
}
