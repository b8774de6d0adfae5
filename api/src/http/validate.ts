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

/** zod's definition of a schema node, as far as finding an object's keys needs it. */
interface Def {
  type: string;
  shape?: Record<string, { _zod: { def: Def } }>;
  innerType?: { _zod: { def: Def } };
  in?: { _zod: { def: Def } };
}

/** The keys the object schema at `path` knows, looking through optional, default and pipe wrappers. */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let def: Def | undefined = (schema as unknown as { _zod: { def: Def } })._zod.def;
  const unwrap = () => {
    while (def && def.type !== "object") def = (def.innerType ?? def.in)?._zod.def;
  };
  for (const key of path) {
    unwrap();
    def = def?.shape?.[String(key)]?._zod.def;
  }
  unwrap();
  return Object.keys(def?.shape ?? {});
}

/** Edit distance, for a misspelt field's nearest known one. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** "is not a known field", with the field meant when one is near (a part of it, or a typo away), else the known ones. */
function unknownField(key: string, known: string[]): string {
  const near = known.find((k) => k.split("_").includes(key) || key.split("_").includes(k)) ?? known.find((k) => distance(key, k) <= Math.min(2, k.length - 1));
  if (near) return `is not a known field; did you mean ${near}?`;
  return known.length > 0 ? `is not a known field (known: ${known.join(", ")})` : "is not a known field";
}

function issuesOf(error: z.ZodError, schema: z.ZodType): FieldIssue[] {
  return error.issues.flatMap((i) => {
    if (i.code === "unrecognized_keys") {
      const known = knownKeys(schema, i.path);
      return i.keys.map((k) => ({ field: [...i.path, k].join("."), message: unknownField(k, known) }));
    }
    return [{ field: i.path.join(".") || BODY, message: i.message }];
  });
}

const sentence = (d: FieldIssue) => `${d.field === BODY ? "the body" : d.field} ${d.message}`;

/** Parses input with a zod schema; a failure is a 400 naming every bad field in plain words. */
export function parseOr400<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(input, { error: plainMessage });
  if (r.success) return r.data;
  const details = issuesOf(r.error, schema).map((d) => ({ field: d.field, message: sentence(d) }));
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
