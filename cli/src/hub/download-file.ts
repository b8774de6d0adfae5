import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rm, stat } from "node:fs/promises";
import path from "node:path";
import { CliExitCode } from "@videosdgx/shared";
import { CliError } from "../cli-error.js";
import { causeOf, type HubClient, type HubFile } from "./hub-client.js";

/** Both hashes the Hub may vouch for, fed the same bytes: sha256 (LFS oid, and our record), git's blob sha1. */
class ContentHashes {
  readonly sha256: Hash = createHash("sha256");
  readonly gitSha1: Hash;
  constructor(size: number) {
    this.gitSha1 = createHash("sha1").update(`blob ${size}\0`);
  }
  update(chunk: Uint8Array): void {
    this.sha256.update(chunk);
    this.gitSha1.update(chunk);
  }
}

async function hashExisting(file: string, hashes: ContentHashes, bytes: number): Promise<void> {
  if (bytes === 0) return;
  for await (const chunk of createReadStream(file, { start: 0, end: bytes - 1 })) hashes.update(chunk as Buffer);
}

export interface FileDownload {
  client: HubClient;
  repo: string;
  commit: string;
  file: HubFile;
  dest: string;
  /** Called with each chunk's size, and with a negative count when bytes already counted are dropped. */
  onBytes(n: number): void;
}

/**
 * Downloads one file into `dest`, resuming from the bytes already there (a Range request), and checks the
 * whole content against the Hub's hash. A mismatch removes the file (the next pull fetches it afresh) and
 * fails; a broken connection keeps what arrived and says how far it got. Returns the content's sha256.
 */
export async function downloadFile(d: FileDownload): Promise<string> {
  const { file, dest } = d;
  await mkdir(path.dirname(dest), { recursive: true });
  let have = (await stat(dest).catch(() => undefined))?.size ?? 0;
  if (have > file.size) {
    await rm(dest);
    d.onBytes(-have);
    have = 0;
  }
  let hashes = new ContentHashes(file.size);
  await hashExisting(dest, hashes, have);

  if (have < file.size) {
    const res = await d.client.openFile(d.repo, d.commit, file.path, have);
    if (res.status === 200 && have > 0) {
      // The server ignored the Range: start the file over.
      d.onBytes(-have);
      have = 0;
      hashes = new ContentHashes(file.size);
    }
    if (res.status === 416) {
      await res.body?.cancel();
      throw new CliError("hub_bad_answer", `${d.repo}/${file.path}: the server refused to resume at byte ${have} of ${file.size}`, CliExitCode.network);
    }
    const handle = await open(dest, have > 0 ? "a" : "w");
    try {
      if (!res.body) throw new Error("empty response");
      for await (const chunk of res.body) {
        await handle.write(chunk);
        hashes.update(chunk);
        have += chunk.length;
        d.onBytes(chunk.length);
      }
      await handle.sync();
    } catch (err) {
      throw new CliError(
        "network",
        `the download of ${d.repo}/${file.path} stopped at ${have} of ${file.size} bytes (${causeOf(err)}); run the same pull again to resume from there`,
        CliExitCode.network,
      );
    } finally {
      await handle.close();
    }
    if (have < file.size) {
      throw new CliError(
        "network",
        `the download of ${d.repo}/${file.path} ended early at ${have} of ${file.size} bytes; run the same pull again to resume from there`,
        CliExitCode.network,
      );
    }
  }

  const sha256 = hashes.sha256.digest("hex");
  const expected = file.sha256 ?? file.gitOid;
  const got = file.sha256 ? sha256 : hashes.gitSha1.digest("hex");
  if (have !== file.size || got !== expected) {
    await rm(dest, { force: true });
    d.onBytes(-have);
    throw new CliError(
      "hash_mismatch",
      `${d.repo}/${file.path} does not match the Hub's ${file.sha256 ? "sha256" : "git blob id"}: expected ${expected}, got ${got} (${have} bytes); ` +
        "the file was removed and nothing was moved into place; run the same pull again, and if it repeats, the mirror (HF_ENDPOINT) serves a damaged copy",
      CliExitCode.failed,
    );
  }
  return sha256;
}
