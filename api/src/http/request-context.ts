import { randomUUID } from "node:crypto";
import type { RequestHandler, Response } from "express";
import type { Logger } from "@videosdgx/shared";

/** An incoming X-Request-Id is kept when it is short and plain (a proxy's or a client's id); else we make one. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:\/+=@-]{1,128}$/;

interface RequestLocals {
  requestId: string;
  log: () => Logger;
}

/**
 * Gives every request an id, returned as `X-Request-Id` on every response (errors included), and a
 * logger whose lines carry it. The child logger is made on first use: most requests never log.
 */
export function requestContext(log: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get("x-request-id");
    const requestId = incoming !== undefined && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader("X-Request-Id", requestId);
    let child: Logger | undefined;
    const locals: RequestLocals = { requestId, log: () => (child ??= log.child({ request_id: requestId })) };
    Object.assign(res.locals, locals);
    next();
  };
}

/** The request's own logger (its lines carry `request_id`); the process logger outside a request context. */
export function requestLog(res: Response, fallback: Logger): Logger {
  return (res.locals as Partial<RequestLocals>).log?.() ?? fallback;
}
