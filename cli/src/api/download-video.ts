import { createHash } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { CliExitCode, type JobResource } from "@videosdgx/shared";
import { CliError } from "../cli-error.js";
import { causeOf } from "../hub/hub-client.js";
import { isAbort, type ApiClient } from "./api-client.js";

export interface DownloadedVideo {
  file: string;
  bytes: number;
  sha256: string;
}

/**
 * Streams a completed job's MP4 to `file`: written beside it under a temporary name and renamed into
 * place once whole and matching the sha256 the job's result records, so `file` is never a partial video.
 */
export async function downloadVideo(api: ApiClient, job: JobResource, file: string, signal?: AbortSignal): Promise<DownloadedVideo> {
  const dest = path.resolve(file);
  const partial = path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.part`);
  await mkdir(path.dirname(dest), { recursive: true });
  const res = await api.fetch(`/v1/jobs/${encodeURIComponent(job.id)}/video`, { signal });
  const hash = createHash("sha256");
  let bytes = 0;
  const handle = await open(partial, "w");
  try {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        await handle.write(chunk);
        hash.update(chunk);
        bytes += chunk.length;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    const sha256 = hash.digest("hex");
    const expected = job.result?.sha256;
    if (expected !== undefined && sha256 !== expected) {
      throw new CliError("download_mismatch", `the video of job ${job.id} arrived damaged (${bytes} bytes, sha256 ${sha256}, expected ${expected}); download it again: videosdgx jobs download ${job.id}`, CliExitCode.network);
    }
    await rename(partial, dest);
    return { file: dest, bytes, sha256 };
  } catch (err) {
    await rm(partial, { force: true });
    if (err instanceof CliError || isAbort(err)) throw err;
    throw new CliError("download_failed", `the download of job ${job.id}'s video stopped after ${bytes} bytes (${causeOf(err)}); download it again: videosdgx jobs download ${job.id}`, CliExitCode.network);
  }
}
