import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A file of a fake repository; LFS files are served by the CDN after a redirect, others by resolve itself. */
export interface FakeFile {
  content: Buffer;
  lfs: boolean;
}

export interface FakeRepo {
  id: string;
  commit: string;
  /** Branches and tags besides the commit itself, e.g. { main: commit }. */
  refs: Record<string, string>;
  files: Record<string, FakeFile>;
  /** Downloads need `Authorization: Bearer <one of acceptedTokens>`: 401 without a token, 403 with another. */
  gated?: boolean;
}

const gitOid = (b: Buffer) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");
export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

const TREE_PAGE = 2;

/**
 * A stand-in for the Hugging Face Hub, speaking its protocol: `/api/models/{repo}/revision/{rev}`,
 * `/api/models/{repo}/tree/{rev}?recursive=true` paged with `Link: rel="next"`, `/{repo}/resolve/{rev}/{path}`
 * answering LFS files with a 302 to a CDN on another origin, Range requests, `X-Error-Code` on refusals.
 * Tests can cut a file's first transfer mid-way and serve a corrupted copy.
 */
export class FakeHub {
  /** Content bytes sent per file path (CDN and direct), over the hub's life. */
  readonly bytesServed = new Map<string, number>();
  /** Paths whose next transfer stops after half its bytes, the connection destroyed. */
  readonly cutNext = new Set<string>();
  /** Paths served with one byte flipped. */
  readonly corrupt = new Set<string>();
  readonly acceptedTokens = new Set<string>();
  /** Whether any request to the CDN carried an Authorization header (it never should). */
  cdnSawAuthorization = false;

  private constructor(
    private readonly repos: FakeRepo[],
    private readonly api: Server,
    private readonly cdn: Server,
  ) {}

  static async start(repos: FakeRepo[]): Promise<FakeHub> {
    const listen = async (s: Server) => new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    const hub = new FakeHub(repos, createServer(), createServer());
    hub.api.on("request", (req, res) => hub.handleApi(req, res));
    hub.cdn.on("request", (req, res) => hub.handleCdn(req, res));
    await Promise.all([listen(hub.api), listen(hub.cdn)]);
    return hub;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.api.address() as AddressInfo).port}`;
  }

  private get cdnUrl(): string {
    return `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
  }

  served(path: string): number {
    return this.bytesServed.get(path) ?? 0;
  }

  async close(): Promise<void> {
    for (const s of [this.api, this.cdn]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  }

  private repoOf(path: string): { repo: FakeRepo; rest: string } | undefined {
    for (const repo of this.repos) if (path.startsWith(`${repo.id}/`)) return { repo, rest: path.slice(repo.id.length + 1) };
    return undefined;
  }

  private commitOf(repo: FakeRepo, rev: string): string | undefined {
    return rev === repo.commit ? rev : repo.refs[rev];
  }

  private static refuse(res: ServerResponse, status: number, errorCode: string, message: string): void {
    res.writeHead(status, { "Content-Type": "application/json", "X-Error-Code": errorCode, "X-Error-Message": message });
    res.end(JSON.stringify({ error: message }));
  }

  private handleApi(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", this.url);
    const path = decodeURIComponent(url.pathname);
    if (path.startsWith("/api/models/")) return this.apiModels(path.slice("/api/models/".length), url, res);
    const found = this.repoOf(path.slice(1));
    const m = found && /^resolve\/([^/]+)\/(.+)$/.exec(found.rest);
    if (!found || !m) return FakeHub.refuse(res, 401, "RepositoryNotFound", "Repository not found");
    const { repo } = found;
    const commit = this.commitOf(repo, m[1]!);
    if (!commit) return FakeHub.refuse(res, 404, "RevisionNotFound", `Invalid rev id: ${m[1]}`);
    const file = repo.files[m[2]!];
    if (!file) return FakeHub.refuse(res, 404, "EntryNotFound", `${m[2]} does not exist on "${m[1]}"`);
    if (repo.gated) {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      if (!token) return FakeHub.refuse(res, 401, "GatedRepo", `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`);
      if (!this.acceptedTokens.has(token)) return FakeHub.refuse(res, 403, "GatedRepo", `Access to model ${repo.id} is restricted and you are not in the authorized list. Visit https://huggingface.co/${repo.id} to ask for access.`);
    }
    const headers = { "X-Repo-Commit": commit, ETag: `"${file.lfs ? sha256(file.content) : gitOid(file.content)}"` };
    if (file.lfs) {
      res.writeHead(302, { ...headers, "X-Linked-Size": String(file.content.length), "X-Linked-Etag": `"${sha256(file.content)}"`, Location: `${this.cdnUrl}/repos/${sha256(file.content)}?path=${encodeURIComponent(m[2]!)}` });
      res.end();
      return;
    }
    this.sendContent(req, res, m[2]!, file.content, headers);
  }

  private apiModels(rest: string, url: URL, res: ServerResponse): void {
    const found = this.repoOf(rest);
    const m = found && /^(revision|tree)\/([^/]+)$/.exec(found.rest);
    if (!found || !m) return FakeHub.refuse(res, 401, "RepositoryNotFound", "Repository not found");
    const { repo } = found;
    const commit = this.commitOf(repo, m[2]!);
    if (!commit) return FakeHub.refuse(res, 404, "RevisionNotFound", `Invalid rev id: ${m[2]}`);
    const paths = Object.keys(repo.files).sort();
    if (m[1] === "revision") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ id: repo.id, sha: commit, gated: repo.gated ? "manual" : false, siblings: paths.map((rfilename) => ({ rfilename })) }));
      return;
    }
    // The tree lists directories too; files carry their git oid and, for LFS, the content's sha256 and size.
    const dirs = [...new Set(paths.flatMap((p) => p.split("/").slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join("/"))))];
    const entries = [
      ...dirs.map((path) => ({ type: "directory", oid: "0".repeat(40), size: 0, path })),
      ...paths.map((path) => {
        const f = repo.files[path]!;
        const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(f.content)}\nsize ${f.content.length}\n`;
        return f.lfs
          ? { type: "file", oid: gitOid(Buffer.from(pointer)), size: f.content.length, path, lfs: { oid: sha256(f.content), size: f.content.length, pointerSize: pointer.length } }
          : { type: "file", oid: gitOid(f.content), size: f.content.length, path };
      }),
    ];
    const cursor = Number(url.searchParams.get("cursor") ?? 0);
    const page = entries.slice(cursor, cursor + TREE_PAGE);
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (cursor + TREE_PAGE < entries.length) {
      const next = new URL(url);
      next.searchParams.set("cursor", String(cursor + TREE_PAGE));
      headers.Link = `<${next.toString()}>; rel="next"`;
    }
    res.writeHead(200, headers);
    res.end(JSON.stringify(page));
  }

  private handleCdn(req: IncomingMessage, res: ServerResponse): void {
    if (req.headers.authorization) this.cdnSawAuthorization = true;
    const url = new URL(req.url ?? "/", this.cdnUrl);
    const path = url.searchParams.get("path") ?? "";
    const hash = url.pathname.replace(/^\/repos\//, "");
    const file = this.repos.flatMap((r) => Object.values(r.files)).find((f) => f.lfs && sha256(f.content) === hash);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    this.sendContent(req, res, path, file.content, { ETag: `"${hash}"` });
  }

  /** 200 or 206 by the Range header (`bytes=N-`), 416 past the end; a cut sends half the bytes and breaks the connection. */
  private sendContent(req: IncomingMessage, res: ServerResponse, path: string, original: Buffer, headers: Record<string, string>): void {
    let content = original;
    if (this.corrupt.has(path)) {
      content = Buffer.from(original);
      content[content.length >> 1] = content[content.length >> 1]! ^ 0xff;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    if (start >= content.length && range) {
      res.writeHead(416, { "Content-Range": `bytes */${content.length}` }).end();
      return;
    }
    const body = content.subarray(start);
    res.writeHead(range ? 206 : 200, {
      ...headers,
      "Accept-Ranges": "bytes",
      "Content-Length": String(body.length),
      ...(range ? { "Content-Range": `bytes ${start}-${content.length - 1}/${content.length}` } : {}),
    });
    if (this.cutNext.delete(path)) {
      const half = body.subarray(0, body.length >> 1);
      this.bytesServed.set(path, this.served(path) + half.length);
      res.write(half, () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    this.bytesServed.set(path, this.served(path) + body.length);
    res.end(body);
  }
}
