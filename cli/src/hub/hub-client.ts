import { CliExitCode, hubRepoPage } from "@videosdgx/shared";
import { CliError } from "../cli-error.js";

/** One file of a repository at a commit, as the Hub's tree listing gives it. */
export interface HubFile {
  path: string;
  size: number;
  /** For LFS files: the sha256 of the content (the LFS oid). */
  sha256?: string;
  /** The git blob id (sha1 of `blob <size>\0<content>`): the content's hash for files kept in git itself. */
  gitOid: string;
}

interface TreeEntry {
  type: string;
  path: string;
  size: number;
  oid: string;
  lfs?: { oid: string; size: number };
}

const MAX_REDIRECTS = 5;

/**
 * The Hugging Face Hub's HTTP API, as huggingface_hub uses it: `GET /api/models/{repo}/revision/{rev}`
 * (the commit a branch or tag points at), `GET /api/models/{repo}/tree/{commit}?recursive=true` (paged by
 * `Link: rel="next"`), and `GET /{repo}/resolve/{commit}/{path}`, which redirects LFS files to a CDN.
 * The token goes to the Hub's own origin only, never to where it redirects.
 */
export class HubClient {
  constructor(
    private readonly endpoint: string,
    private readonly token: string | undefined,
    /** Licence named in a 401/403 for a gated repository, by repo id. */
    private readonly gated: ReadonlyMap<string, string> = new Map(),
  ) {}

  /** The commit `revision` (branch, tag or commit) points at. */
  async resolveRevision(repo: string, revision: string): Promise<string> {
    const res = await this.request(repo, `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`, `revision ${revision}`);
    const body = (await res.json()) as { sha?: unknown };
    if (typeof body.sha !== "string" || !/^[0-9a-f]{40}$/.test(body.sha)) {
      throw new CliError("hub_bad_answer", `${this.endpoint} gave no commit for ${repo}@${revision} (is HF_ENDPOINT a Hub?)`, CliExitCode.network);
    }
    return body.sha;
  }

  /** Every file of the repository at `commit`, following the listing's pages. */
  async listFiles(repo: string, commit: string): Promise<HubFile[]> {
    const files: HubFile[] = [];
    let url: string | undefined = `${this.endpoint}/api/models/${repo}/tree/${commit}?recursive=true&expand=false`;
    while (url) {
      const res = await this.request(repo, url, `the file list of ${commit}`);
      for (const e of (await res.json()) as TreeEntry[]) {
        if (e.type !== "file") continue;
        files.push({ path: e.path, size: e.lfs?.size ?? e.size, sha256: e.lfs?.oid, gitOid: e.oid });
      }
      url = nextLink(res.headers.get("link"), url);
    }
    return files;
  }

  /**
   * The response carrying a file's bytes from `offset` on (a Range request when offset > 0), after the
   * resolve URL's redirects. The caller reads the body; 206 means the range was honoured, 200 the whole file.
   */
  async openFile(repo: string, commit: string, file: string, offset: number): Promise<Response> {
    const encoded = file.split("/").map(encodeURIComponent).join("/");
    let url = `${this.endpoint}/${repo}/resolve/${commit}/${encoded}`;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
      const res = await this.fetch(repo, url, file, headers, "manual");
      if (res.status >= 300 && res.status < 400 && res.headers.has("location")) {
        await res.body?.cancel();
        url = new URL(res.headers.get("location")!, url).toString();
        continue;
      }
      if (res.status === 200 || res.status === 206 || res.status === 416) return res;
      throw await this.failure(repo, res, file);
    }
    throw new CliError("hub_bad_answer", `${repo}/${file}: more than ${MAX_REDIRECTS} redirects`, CliExitCode.network);
  }

  private async request(repo: string, url: string, what: string): Promise<Response> {
    const res = await this.fetch(repo, url, what, {}, "follow");
    if (!res.ok) throw await this.failure(repo, res, what);
    return res;
  }

  private async fetch(repo: string, url: string, what: string, headers: Record<string, string>, redirect: RequestRedirect): Promise<Response> {
    const own = new URL(url).origin === new URL(this.endpoint).origin;
    const auth: Record<string, string> = own && this.token ? { Authorization: `Bearer ${this.token}` } : {};
    try {
      return await fetch(url, { headers: { ...headers, ...auth, "User-Agent": "videosdgx-cli" }, redirect });
    } catch (err) {
      throw new CliError(
        "network",
        `cannot reach ${new URL(url).origin} for ${repo} (${what}): ${causeOf(err)}; check the network or HF_ENDPOINT, then run the same command again`,
        CliExitCode.network,
      );
    }
  }

  /** What a refusal means and what to do, from the status and the Hub's `X-Error-Code`/`X-Error-Message`. */
  private async failure(repo: string, res: Response, what: string): Promise<CliError> {
    const errorCode = res.headers.get("x-error-code") ?? "";
    const hubSays = res.headers.get("x-error-message") ?? (await res.text().catch(() => "")).slice(0, 300);
    const said = hubSays ? ` (the Hub says: ${hubSays.trim()})` : "";
    if (res.status === 401 || res.status === 403) {
      const licence = this.gated.get(repo);
      const page = hubRepoPage(repo);
      const tokenState = this.token
        ? "HF_TOKEN is set: make sure its account accepted the licence and the token can read gated repositories"
        : "HF_TOKEN is not set: create a read token at https://huggingface.co/settings/tokens and export HF_TOKEN";
      const message =
        licence || errorCode === "GatedRepo"
          ? `${repo} is gated: accept ${licence ?? "its licence"} at ${page} while logged in, then run again with HF_TOKEN; ${tokenState}${said}`
          : `the Hub refused access to ${repo} (${res.status}); ${tokenState}${said}`;
      return new CliError("hub_denied", message, CliExitCode.denied);
    }
    if (res.status === 404) {
      const message =
        errorCode === "RevisionNotFound"
          ? `${repo} has no ${what}: use a branch, tag or commit that exists (see ${hubRepoPage(repo)}/tree/main)`
          : errorCode === "EntryNotFound"
            ? `${repo} has no file ${what}${said}`
            : `${repo} was not found on ${this.endpoint} (${what})${said}`;
      return new CliError("hub_not_found", message, CliExitCode.notFound);
    }
    return new CliError("hub_error", `${this.endpoint} answered ${res.status} for ${repo} (${what})${said}; run the same command again later`, CliExitCode.network);
  }
}

/** The `rel="next"` URL of a Link header, resolved against the request's URL. */
function nextLink(header: string | null, base: string): string | undefined {
  const match = header?.split(",").map((p) => /<([^>]+)>\s*;\s*rel="?next"?/.exec(p)).find(Boolean);
  return match ? new URL(match[1]!, base).toString() : undefined;
}

/** fetch() wraps the socket's error in `cause`: that is the part a user can act on. */
export function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
