import assert from "node:assert/strict";
import { test } from "node:test";
import { JobResourceSchema, ListJobsQuerySchema, createJobRequestSchema } from "@videosdgx/shared";
import { ApiRouter } from "./api-router.js";
import { buildOpenApi } from "./openapi.js";

test("the OpenAPI document is generated from the routes' zod schemas", () => {
  const api = new ApiRouter(() => (_req, _res, next) => next());
  const noop = () => undefined;
  api.route({
    method: "post", path: "/v1/jobs", tag: "jobs", summary: "submit", access: "jobs:write", body: createJobRequestSchema(100),
    responses: { 202: { description: "accepted", schema: JobResourceSchema } },
  }, noop);
  api.route({ method: "get", path: "/v1/jobs", tag: "jobs", summary: "list", access: "jobs:read", query: ListJobsQuerySchema, responses: { 200: { description: "ok" } } }, noop);
  api.route({ method: "get", path: "/v1/jobs/:id/video", tag: "jobs", summary: "video", access: "jobs:read", responses: { 200: { description: "mp4", contentType: "video/mp4" } } }, noop);
  api.route({ method: "get", path: "/healthz", tag: "health", summary: "up", access: "public", responses: { 200: { description: "ok" } } }, noop);
  const doc = buildOpenApi(api.docs, "1.2.3") as any;

  assert.equal(doc.openapi, "3.1.0");
  const body = doc.paths["/v1/jobs"].post.requestBody.content["application/json"].schema;
  assert.deepEqual(body.required.sort(), ["model", "prompt"]);
  assert.equal(body.properties.prompt.maxLength, 100, "limits come from the same schema the API validates with");
  assert.equal(body.additionalProperties, false);
  assert.ok(doc.paths["/v1/jobs"].post.responses["202"].content["application/json"].schema.properties.queue_position);
  assert.ok(doc.paths["/v1/jobs"].post.responses["400"], "error responses are documented");
  const params = doc.paths["/v1/jobs"].get.parameters.map((p: any) => [p.name, p.in, p.required]);
  assert.deepEqual(params, [["model", "query", false], ["status", "query", false], ["limit", "query", false], ["before", "query", false]]);
  assert.deepEqual(doc.paths["/v1/jobs/{id}/video"].get.parameters[0], { name: "id", in: "path", required: true, schema: { type: "string" } });

  assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ["apiKey", "basicKey"]);
  assert.equal(doc.paths["/v1/jobs"].post["x-required-access"], "jobs:write");
  assert.ok(doc.paths["/v1/jobs"].get.responses["403"], "routes behind a key document 401 and 403");
  assert.deepEqual(doc.paths["/healthz"].get.security, [], "a public route overrides the global security");
  assert.equal(doc.paths["/healthz"].get.responses["401"], undefined);
});
