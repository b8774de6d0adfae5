import { Router, type Request, type RequestHandler, type Response } from "express";
import type { z } from "zod";
import type { Access } from "./auth.js";
import { setRouteLabel } from "./request-metrics.js";

export interface RouteResponse {
  description: string;
  schema?: z.ZodType;
  contentType?: string;
}

/** What a route accepts and answers: drives both Express and the OpenAPI document. */
export interface RouteDoc {
  method: "get" | "post" | "delete";
  path: string;
  summary: string;
  tag: string;
  /** Who may call it: every route says so explicitly. */
  access: Access;
  body?: z.ZodType;
  /** Also takes the body as multipart/form-data: its fields as text parts, `image` as a file part. */
  multipart?: boolean;
  query?: z.ZodObject;
  /** Accepts an Idempotency-Key header. */
  idempotent?: boolean;
  responses: Record<number, RouteResponse>;
}

type Handler = (req: Request, res: Response) => Promise<void> | void;

/** An Express router that records each route's contract, so the docs cannot drift from the code. */
export class ApiRouter {
  readonly router = Router();
  readonly docs: RouteDoc[] = [];

  constructor(private readonly guard: (access: Access) => RequestHandler) {}

  route(doc: RouteDoc, handler: Handler): this {
    this.docs.push(doc);
    // Express 5 forwards a rejected promise to the error handler.
    // The route label first: a request the guard refuses is still timed under its route.
    this.router[doc.method](doc.path, setRouteLabel(doc.path), this.guard(doc.access), handler);
    return this;
  }
}
