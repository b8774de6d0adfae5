import type { z } from "zod";
import { UnsupportedMediaTypeError, ValidationError } from "@videosdgx/shared";

export interface FieldIssue {
  field: string;
  message: string;
}

function issuesOf(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((i) =>
    i.code === "unrecognized_keys"
      ? i.keys.map((k) => ({ field: [...i.path, k].join("."), message: "unknown field" }))
      : [{ field: i.path.join(".") || "(body)", message: i.message }],
  );
}

/** Parses input with a zod schema; a failure is a 400 naming every bad field. */
export function parseOr400<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const details = issuesOf(r.error);
  throw new ValidationError(`invalid ${what}: ${details.map((d) => `${d.field}: ${d.message}`).join("; ")}`, details);
}

/** express.json() leaves the body undefined unless Content-Type is JSON. */
export function jsonBody(body: unknown): unknown {
  if (body === undefined) throw new UnsupportedMediaTypeError("send the body as JSON with Content-Type: application/json");
  return body;
}
