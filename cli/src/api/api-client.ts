import { CliExitCode, ErrorBodySchema, parseJsonOrUndefined, type Config } from "@videosdgx/shared";
import { z } from "zod";
import { CliError } from "../cli-error.js";
import { causeOf } from "../hub/hub-client.js";

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** What an API refusal means for a script: its HTTP status class as one of the CLI's exit codes. */
function exitCodeOf(status: number): CliExitCode {
  if (status === 401 || status === 403) return CliExitCode.denied;
  if (status === 404) return CliExitCode.notFound;
  if (status === 429 || status === 502 || status === 503 || status === 504) return CliExitCode.network;
  if (status >= 400 && status < 500 && status !== 409) return CliExitCode.usage;
  return CliExitCode.failed;
}

/** The per-field verdicts a 400 carries in `details` (the model's rules give the nearest valid values). */
const ViolationsSchema = z.array(z.object({ field: z.string(), nearest: z.array(z.union([z.number(), z.string()])).optional() }));

function nearestValid(details: unknown): string {
  const hints = (ViolationsSchema.safeParse(details).data ?? []).filter((v) => v.nearest?.length).map((v) => `${v.field} ${v.nearest!.join(" or ")}`);
  return hints.length > 0 ? ` (nearest valid: ${hints.join("; ")})` : "";
}

export const isAbort = (err: unknown): boolean => (err as Error)?.name === "AbortError";

/**
 * The public HTTP API, as a user reaches it: its base URL and, when given, a key sent as a Bearer token.
 * Every refusal becomes a CliError carrying the API's own code and message; nothing else is told apart.
 */
export class ApiClient {
  constructor(
    readonly base: string,
    private readonly key: string | undefined,
  ) {}

  static of(config: Config): ApiClient {
    return new ApiClient(config.VIDEOSDGX_URL, config.VIDEOSDGX_API_KEY);
  }

  /** The answer, when it is a 2xx; an unreachable API or a refusal is thrown as a CliError. */
  async fetch(path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.key) headers.authorization = `Bearer ${this.key}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method: opts.method ?? "GET",
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: opts.signal,
      });
    } catch (err) {
      if (isAbort(err)) throw err;
      throw new CliError(
        "api_unreachable",
        `cannot reach the API at ${this.base} (${causeOf(err)}): start it (npm start), or point --url / VIDEOSDGX_URL at it`,
        CliExitCode.network,
      );
    }
    if (!res.ok) throw await this.refusal(res);
    return res;
  }

  /** A JSON answer, checked against the schema the API itself documents it with. */
  async json<S extends z.ZodType>(schema: S, path: string, opts: RequestOptions = {}): Promise<z.infer<S>> {
    const res = await this.fetch(path, opts);
    const parsed = schema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) {
      throw new CliError("bad_answer", `the API at ${this.base} answered ${path} with an unexpected body: ${z.prettifyError(parsed.error)}`, CliExitCode.failed);
    }
    return parsed.data;
  }

  private async refusal(res: Response): Promise<CliError> {
    const text = await res.text().catch(() => "");
    const body = ErrorBodySchema.safeParse(parseJsonOrUndefined(text)).data;
    const code = body?.error.code ?? `http_${res.status}`;
    let message = body ? `${body.error.code}: ${body.error.message}${nearestValid(body.error.details)}` : `the API answered ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ""}`;
    if (res.status === 401 && !this.key) message += " (no key was sent: give --key or set VIDEOSDGX_API_KEY)";
    const retryAfter = res.headers.get("retry-after");
    if (res.status === 429 && retryAfter) message += ` (retry after ${retryAfter} s)`;
    return new CliError(code, message, exitCodeOf(res.status));
  }
}

