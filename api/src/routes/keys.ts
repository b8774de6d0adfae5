import { ApiKeyRecordSchema, CreateApiKeyRequestSchema, CreatedApiKeySchema, NotFoundError } from "@videosdgx/shared";
import { z } from "zod";
import type { AppContext } from "../context.js";
import type { ApiRouter } from "../http/api-router.js";
import { jsonBody, parseOr400 } from "../http/validate.js";

/** Key management over HTTP for admins, beside the `npm run keys` command line. */
export function keyRoutes(api: ApiRouter, ctx: AppContext): void {
  api.route(
    {
      method: "get", path: "/v1/keys", tag: "keys", access: "admin", summary: "Every API key, revoked ones included (never the key itself)",
      responses: { 200: { description: "keys", schema: z.object({ keys: z.array(ApiKeyRecordSchema) }) } },
    },
    async (_req, res) => {
      res.json({ keys: await ctx.apiKeys.list() });
    },
  );

  api.route(
    {
      method: "post", path: "/v1/keys", tag: "keys", access: "admin", body: CreateApiKeyRequestSchema,
      summary: "Create a key; the answer is the only time the key and its webhook signing secret are shown",
      responses: { 201: { description: "created", schema: CreatedApiKeySchema } },
    },
    async (req, res) => {
      const body = parseOr400(CreateApiKeyRequestSchema, jsonBody(req), "key request");
      const created = await ctx.apiKeys.create(body.scopes, body.name);
      res.status(201).setHeader("Cache-Control", "no-store").json(created);
    },
  );

  api.route(
    {
      method: "delete", path: "/v1/keys/:id", tag: "keys", access: "admin", summary: "Revoke a key (at once, on every API process)",
      responses: { 200: { description: "the revoked key", schema: ApiKeyRecordSchema } },
    },
    async (req, res) => {
      const id = String(req.params.id);
      const record = await ctx.apiKeys.revoke(id);
      if (!record) throw new NotFoundError(`no API key with id ${id}`);
      res.json(record);
    },
  );
}
