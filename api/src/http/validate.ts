import type { Request } from "express";
import type { z } from "zod";
import { UnsupportedMediaTypeError, ValidationError } from "@videosdgx/shared";

export interface FieldIssue {
  field: string;
  message: string;
}

const BODY = "(body)";

const EXPECTED: Record<string, string> = { int: "a whole number", array: "a list", object: "an object" };
const article = (what: string) => (Object.hasOwn(EXPECTED, what) ? EXPECTED[what]! : /^[aeiou]/.test(what) ? `an ${what}` : `a ${what}`);

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}

type Issue = z.core.$ZodRawIssue;

function bound(iss: Issue & { origin?: string }, limit: unknown, inclusive: boolean | undefined, side: "most" | "least"): string {
  const cmp = inclusive === false ? (side === "most" ? "less than" : "more than") : `at ${side}`;
  if (iss.origin === "string") {
    const got = typeof iss.input === "string" ? ` (it has ${iss.input.length})` : "";
    return `must be ${cmp} ${String(limit)} characters long${got}`;
  }
  if (iss.origin === "array") return `must have ${cmp} ${String(limit)} items`;
  return `must be ${cmp} ${String(limit)}${iss.input === undefined ? "" : ` (got ${String(iss.input)})`}`;
}

/**
 * zod's messages in plain words, completing "<field> ...": "prompt is required", "width must be a whole
 * number". Schemas' own messages come first; anything not covered here keeps zod's wording.
 */
function plainMessage(iss: Issue): string | undefined {
  switch (iss.code) {
    case "invalid_type":
      return iss.input === undefined ? "is required" : `must be ${article(iss.expected)}, not ${describeValue(iss.input)}`;
    case "too_big":
      return bound(iss, iss.maximum, iss.inclusive, "most");
    case "too_small":
      return iss.origin === "string" && iss.minimum === 1 ? "must not be empty" : bound(iss, iss.minimum, iss.inclusive, "least");
    case "invalid_value":
      return `must be one of ${iss.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return undefined;
  }
}

function issuesOf(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((i) => {
    if (i.code === "unrecognized_keys") return i.keys.map((k) => ({ field: [...i.path, k].join("."), message: "is not a known field" }));
    return [{ field: i.path.join(".") || BODY, message: i.message }];
  });
}

const sentence = (d: FieldIssue) => `${d.field === BODY ? "the body" : d.field} ${d.message}`;

/** Parses input with a zod schema; a failure is a 400 naming every bad field in plain words. */
export function parseOr400<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(input, { error: plainMessage });
  if (r.success) return r.data;
  const details = issuesOf(r.error).map((d) => ({ field: d.field, message: sentence(d) }));
  throw new ValidationError(`invalid ${what}: ${details.map((d) => d.message).join("; ")}`, details);
}

/** Requests whose body was sent as JSON but had no bytes (body-parser turns those into `{}`). */
const emptyBodies = new WeakSet<object>();

/** express.json()'s `verify` hook: remembers which requests came with an empty body. */
export function noteEmptyBody(req: object, _res: unknown, buf: Buffer): void {
  if (buf.length === 0) emptyBodies.add(req);
}

/** The JSON body of a request that needs one; an empty or missing body, or another type, says so. */
export function jsonBody(req: Request): unknown {
  const none = req.body === undefined && req.get("transfer-encoding") === undefined && Number(req.get("content-length") ?? 0) === 0;
  if (emptyBodies.has(req) || none) {
    throw new ValidationError(
      "the request has no body: send a JSON object (Content-Type: application/json)",
      [{ field: BODY, message: "the body is empty" }],
      "empty_body",
    );
  }
  if (req.body === undefined) throw new UnsupportedMediaTypeError("send the body as JSON with Content-Type: application/json");
  return req.body;
}
