import assert from "node:assert/strict";
import { test } from "node:test";
import { JobResourceSchema, ListJobsQuerySchema, createJobRequestSchema } from "@videosdgx/shared";
import { ApiRouter } from "./api-router.js";
import { buildOpenApi } from "./openapi.js";

test("the OpenAPI document is generated from the routes' zod schemas", () => {
  const api = new ApiRouter();
  const noop = () => undefined;
  api.route({
    method: "post", path: "/v1/jobs", tag: "jobs", summary: "submit", body: createJobRequestSchema(100),
    responses: { 202: { description: "accepted", schema: JobResourceSchema } },
  }, noop);
  api.route({ method: "get", path: "/v1/jobs", tag: "jobs", summary: "list", query: ListJobsQuerySchema, responses: { 200: { description: "ok" } } }, noop);
  api.route({ method: "get", path: "/v1/jobs/:id/video", tag: "jobs", summary: "video", responses: { 200: { description: "mp4", contentType: "video/mp4" } } }, noop);
  const doc = buildOpenApi(api.docs, "1.2.3") as any;

  assert.equal(doc.openapi, "3.1.0");
  const body = doc.paths["/v1/jobs"].post.requestBody.content["application/json"].schema;
  assert.deepEqual(body.required.sort(), ["model", "prompt"]);
  assert.equal(body.properties.prompt.maxLength, 100, "limits come from the same schema the API validates with");
  assert.equal(body.additionalProperties, false);
  assert.ok(doc.paths["/v1/jobs"].post.responses["202"].content["application/json"].schema.properties.queue_position);
  assert.ok(doc.paths["/v1/jobs"].post.responses["400"], "error responses are documented");
  const params = doc.paths["/v1/jobs"].get.parameters.map((p: any) => [p.name, p.in, p.required]);
  assert.deepEqual(params, [["model", "query", false], ["status", "query", false], ["limit", "query", false]]);
  assert.deepEqual(doc.paths["/v1/jobs/{id}/video"].get.parameters[0], { name: "id", in: "path", required: true, schema: { type: "string" } });
});
