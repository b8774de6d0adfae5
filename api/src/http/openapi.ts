import { z } from "zod";
import { ErrorBodySchema } from "@videosdgx/shared";
import type { RouteDoc } from "./api-router.js";

const jsonSchema = (schema: z.ZodType, io: "input" | "output") =>
  z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" });

const ERROR_STATUSES: Record<number, string> = {
  400: "invalid request",
  404: "not found",
  409: "conflict with the job's state",
  422: "Idempotency-Key reused with a different request",
  413: "body too large",
  415: "body is not JSON",
  503: "model not installed, Redis unreachable, or a submission no replica confirmed in time (not_replicated: kept as details.job_id)",
  500: "internal error",
};

/** Answers every route behind a key may give. */
const AUTH_STATUSES: Record<number, string> = {
  401: "no API key, or an unknown or revoked one (WWW-Authenticate says how to send it)",
  403: "the key lacks the scope this route needs",
};

const ACCESS_TEXT = { any: "any valid API key", "jobs:read": "scope jobs:read", "jobs:write": "scope jobs:write", admin: "scope admin" } as const;

const errorResponse = (description: string) => ({ description, content: { "application/json": { schema: jsonSchema(ErrorBodySchema, "output") } } });

/** The same fields as form parts (each as text), and `image` as a binary file part. */
function multipartContent(body: z.ZodType): object {
  const schema = jsonSchema(body, "input") as { properties?: Record<string, object> };
  const properties = { ...schema.properties, image: { type: "string", format: "binary", description: "JPEG, PNG or WebP file (image-to-video models)" } };
  return { "multipart/form-data": { schema: { type: "object", properties } } };
}

/** OpenAPI 3.1 built from the routes' zod schemas (3.1 speaks JSON Schema 2020-12, which zod emits). */
export function buildOpenApi(docs: RouteDoc[], version: string): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const d of docs) {
    const path = d.path.replace(/:([A-Za-z_]+)/g, "{$1}");
    const pathParams = [...d.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    const queryParams = d.query
      ? Object.entries(d.query.shape).map(([name, s]) => ({
          name,
          in: "query",
          required: !(s as z.ZodType).safeParse(undefined).success,
          schema: jsonSchema(s as z.ZodType, "input"),
        }))
      : [];
    const headerParams = d.idempotent
      ? [{
          name: "Idempotency-Key", in: "header", required: false, schema: { type: "string", minLength: 1, maxLength: 255 },
          description: "A repeat with the same key and body returns the same job (200); with another body, 422.",
        }]
      : [];
    const responses: Record<string, object> = {};
    for (const [status, r] of Object.entries(d.responses)) {
      responses[status] = {
        description: r.description,
        ...(r.schema ? { content: { [r.contentType ?? "application/json"]: { schema: jsonSchema(r.schema, "output") } } } : {}),
        ...(!r.schema && r.contentType ? { content: { [r.contentType]: {} } } : {}),
      };
    }
    const errors = d.access === "public" ? ERROR_STATUSES : { ...ERROR_STATUSES, ...AUTH_STATUSES };
    for (const [status, description] of Object.entries(errors)) responses[status] ??= errorResponse(description);
    paths[path] ??= {};
    paths[path][d.method] = {
      summary: d.summary,
      tags: [d.tag],
      // The key goes as a bearer token, or as HTTP Basic credentials (for browsers); scopes are ours, not OAuth's.
      security: d.access === "public" ? [] : [{ apiKey: [] }, { basicKey: [] }],
      ...(d.access === "public" ? {} : { description: `Needs ${ACCESS_TEXT[d.access]}.`, "x-required-access": d.access }),
      parameters: [...pathParams, ...queryParams, ...headerParams],
      ...(d.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(d.body, "input") }, ...(d.multipart ? multipartContent(d.body) : {}) } } } : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "VideosDGX", version, description: "Self-hosted text-to-video jobs on one DGX Spark." },
    components: {
      securitySchemes: {
        apiKey: { type: "http", scheme: "bearer", description: "Authorization: Bearer vdgx_<id>_<secret> (npm run keys -- create)" },
        basicKey: { type: "http", scheme: "basic", description: "The same API key as the Basic password (any user name)" },
      },
    },
    security: [{ apiKey: [] }, { basicKey: [] }],
    paths,
  };
}
