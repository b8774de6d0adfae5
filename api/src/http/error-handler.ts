import type { ErrorRequestHandler, RequestHandler } from "express";
import {
  AppError,
  NotFoundError,
  PayloadTooLargeError,
  ServiceUnavailableError,
  TooManyRequestsError,
  UnsupportedMediaTypeError,
  ValidationError,
  isRedisUnavailable,
  type Logger,
} from "@videosdgx/shared";

interface HttpLibraryError {
  type?: string;
  message?: string;
  limit?: number;
  status?: number;
}

/** Errors raised by body-parser and Express's router (e.g. a malformed %-escape in the path), turned into ours. */
function fromHttpLibrary(err: HttpLibraryError): AppError | undefined {
  switch (err.type) {
    case "entity.parse.failed":
      return new ValidationError(`the body is not valid JSON: ${err.message ?? ""}`.trim(), undefined, "malformed_json");
    case "entity.too.large":
      return new PayloadTooLargeError(`the body is larger than ${err.limit ?? "the limit of"} bytes`);
    case "encoding.unsupported":
    case "charset.unsupported":
      return new UnsupportedMediaTypeError(err.message ?? "unsupported encoding");
    default:
      return err.status === 400 ? new ValidationError(err.message ?? "bad request") : undefined;
  }
}

/** The one place where errors become HTTP: `{ error: { code, message, details? } }`, never a stack trace. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let known: AppError | undefined =
      err instanceof AppError ? err : fromHttpLibrary(err as HttpLibraryError);
    if (!known && isRedisUnavailable(err)) known = new ServiceUnavailableError("the job store (Redis) is unreachable; try again shortly");
    if (!known) {
      log.error("unhandled error", { method: req.method, path: req.path, error: (err as Error).stack ?? String(err) });
    }
    const status = known?.status ?? 500;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (status === 503) res.setHeader("Retry-After", "5");
    if (known instanceof TooManyRequestsError) res.setHeader("Retry-After", String(known.retryAfterSeconds));
    // Both schemes take the API key; Basic lets a browser open the dashboard and the docs.
    if (status === 401) res.setHeader("WWW-Authenticate", 'Bearer realm="VideosDGX", Basic realm="VideosDGX", charset="UTF-8"');
    res.status(status).json({
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
