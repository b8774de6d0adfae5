import type { RequestHandler, Response } from "express";
import type { Metrics } from "../services/metrics.js";

/** The documented path of the route that answers a request (`/v1/jobs/:id`), set by ApiRouter before its guard. */
export const setRouteLabel = (path: string): RequestHandler => (_req, res, next) => {
  res.locals.route = path;
  next();
};

const routeOf = (res: Response): string => (typeof res.locals.route === "string" ? res.locals.route : "other");

/**
 * Times every request until its response has ended (or the client went away) for
 * `vdgx_http_request_duration_seconds`. The route label is bounded: documented paths, else `other`.
 */
export function requestMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once("close", () => {
      metrics.observeRequest(req.method, routeOf(res), res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}
