import type { JobFailureCode, JobFailureRecord } from "./contracts/job-failure.js";

/**
 * The platform's error vocabulary: a few classes, each with a stable code and an HTTP status, mapped to
 * the wire format in one place (api/src/http/error-handler.ts). Job failures reuse the codes.
 */
export abstract class AppError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  constructor(message: string, readonly details?: unknown) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  readonly status = 400;
  constructor(message: string, details?: unknown, readonly code: string = "invalid_request") {
    super(message, details);
  }
}

/** No API key, or one that is unknown or revoked. */
export class UnauthorizedError extends AppError {
  readonly status = 401;
  readonly code = "unauthorized";
}

/** A valid API key without the scope the route needs. */
export class ForbiddenError extends AppError {
  readonly status = 403;
  readonly code = "forbidden";
}

/** Too many submissions from one key (`rate_limited`) or too many jobs waiting for a model (`queue_full`). */
export class TooManyRequestsError extends AppError {
  readonly status = 429;
  constructor(
    readonly code: "rate_limited" | "queue_full",
    message: string,
    /** Whole seconds after which a retry can succeed (the Retry-After header). */
    readonly retryAfterSeconds: number,
    details?: unknown,
  ) {
    super(message, details);
  }
}

export class NotFoundError extends AppError {
  readonly status = 404;
  readonly code = "not_found";
}

export class ConflictError extends AppError {
  readonly status = 409;
  readonly code = "conflict";
}

/** The request is well-formed but contradicts an earlier one (an Idempotency-Key reused with another body). */
export class UnprocessableError extends AppError {
  readonly status = 422;
  constructor(message: string, details?: unknown, readonly code: string = "unprocessable") {
    super(message, details);
  }
}

export class PayloadTooLargeError extends AppError {
  readonly status = 413;
  readonly code = "payload_too_large";
}

export class UnsupportedMediaTypeError extends AppError {
  readonly status = 415;
  readonly code = "unsupported_media_type";
}

/**
 * A 4xx that an HTTP library raised (send's 416 for a Range outside the file, the router's 400 for a bad
 * %-escape), kept with its status and the headers that explain it (a 416 carries Content-Range).
 */
export class HttpClientError extends AppError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** The model cannot take jobs here: not installed, broken, or its weights are not obtainable. */
export class ModelUnavailableError extends AppError {
  readonly status = 503;
  readonly code = "model_unavailable";
}

export class ServiceUnavailableError extends AppError {
  readonly status = 503;
  readonly code = "service_unavailable";
}

/**
 * The job was written to the primary but no replica confirmed it in REDIS_WAIT_TIMEOUT_MS: it is kept
 * (it may run), but a failover now could lose it, so it is not acknowledged. `details.job_id` names it;
 * a retry with the same Idempotency-Key answers with that job once a replica holds it.
 */
export class NotReplicatedError extends AppError {
  readonly status = 503;
  readonly code = "not_replicated";
}

/** Bad settings found at start-up; printed and the process exits. */
export class ConfigError extends AppError {
  readonly status = 500;
  readonly code = "config_error";
}

/**
 * Why a job failed, in words a user can act on. `retryable` false means another attempt cannot help
 * (a missing model file, a cancelled job), so BullMQ's remaining attempts are skipped.
 */
export class JobFailure extends Error {
  constructor(
    readonly code: JobFailureCode,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = "JobFailure";
  }

  record(): JobFailureRecord {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}
