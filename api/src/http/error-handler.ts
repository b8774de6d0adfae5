import { STATUS_CODES } from "node:http";
import type { ErrorRequestHandler, Request, RequestHandler } from "express";
import {
  AppError,
  HttpClientError,
  NotFoundError,
  PayloadTooLargeError,
  ServiceUnavailableError,
  TooManyRequestsError,
  UnsupportedMediaTypeError,
  ValidationError,
  isRedisUnavailable,
  type Logger,
} from "@videosdgx/shared";
import { requestLog } from "./request-context.js";

interface HttpLibraryError {
  type?: string;
  message?: string;
  limit?: number;
  status?: number;
  statusCode?: number;
  /** http-errors' headers that belong with the answer (send's Content-Range on a 416). */
  headers?: Record<string, string>;
}

/** Stable codes for the 4xx statuses libraries raise; any other 4xx keeps its status with a generic code. */
const LIBRARY_STATUS_CODES: Record<number, string> = {
  400: "invalid_request",
  404: "not_found",
  405: "method_not_allowed",
  412: "precondition_failed",
  416: "range_not_satisfiable",
};

function libraryClientError(status: number, err: HttpLibraryError, req: Request): HttpClientError {
  const headers = err.headers ?? {};
  const code = Object.hasOwn(LIBRARY_STATUS_CODES, status) ? LIBRARY_STATUS_CODES[status]! : "client_error";
  if (status === 416) {
    const size = /^bytes \*\/(\d+)$/.exec(headers["Content-Range"] ?? "")?.[1];
    const what = size === undefined ? "the resource" : `the ${size}-byte file`;
    const range = req.get("range");
    return new HttpClientError(status, code, `${range ? `Range ${range}` : "the requested range"} selects no byte of ${what}`, headers);
  }
  return new HttpClientError(status, code, err.message || STATUS_CODES[status] || "bad request", headers);
}

/**
 * Errors raised by body-parser, send and Express's router, turned into ours: body-parser's by type, the
 * rest by their 4xx `status` (or `statusCode`). A library's 5xx stays unexpected and is logged.
 */
function fromHttpLibrary(err: HttpLibraryError, req: Request): AppError | undefined {
  switch (err.type) {
    case "entity.parse.failed":
      return new ValidationError(`the body is not valid JSON: ${err.message ?? ""}`.trim(), undefined, "malformed_json");
    case "entity.too.large":
      return new PayloadTooLargeError(`the body is larger than ${err.limit ?? "the limit of"} bytes`);
    case "encoding.unsupported":
    case "charset.unsupported":
      return new UnsupportedMediaTypeError(err.message ?? "unsupported encoding");
  }
  const status = err.status ?? err.statusCode;
  return typeof status === "number" && status >= 400 && status < 500 ? libraryClientError(status, err, req) : undefined;
}

/** The one place where errors become HTTP: `{ error: { code, message, details? } }`, never a stack trace. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const isObject = typeof err === "object" && err !== null;
    let known: AppError | undefined = err instanceof AppError ? err : isObject ? fromHttpLibrary(err as HttpLibraryError, req) : undefined;
    if (!known && isRedisUnavailable(err)) {
      known = new ServiceUnavailableError("the job store (Redis) is unreachable; try again shortly");
      requestLog(res, log).warn("redis unavailable", { path: req.path, error: (err as Error)?.message ?? String(err) });
    }
    if (!known) {
      // The stack goes to the log (with the request id the client got), never into the answer.
      requestLog(res, log).error("unhandled error", { method: req.method, path: req.path, error: (err as Error)?.stack ?? String(err) });
    }
    const status = known?.status ?? 500;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // An error met while sending a file (send's 416) finds the file's headers set: the answer is JSON.
    for (const h of ["ETag", "Last-Modified"]) res.removeHeader(h);
    if (known instanceof HttpClientError) for (const [name, value] of Object.entries(known.headers)) res.setHeader(name, value);
    if (status === 503) res.setHeader("Retry-After", "5");
    if (known instanceof TooManyRequestsError) res.setHeader("Retry-After", String(known.retryAfterSeconds));
    // Both schemes take the API key; Basic lets a browser open the dashboard and the docs.
    if (status === 401) res.setHeader("WWW-Authenticate", 'Bearer realm="VideosDGX", Basic realm="VideosDGX", charset="UTF-8"');
    res.status(status).type("application/json").json({
      error: {
        code: known?.code ?? "internal_error",
        message: known?.message ?? "an internal error occurred; it has been logged",
        ...(known?.details !== undefined ? { details: known.details } : {}),
      },
    });
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`no route for ${req.method} ${req.path}`));
};
