import { createHash } from "node:crypto";
import { JobFailure, type InputStore, type JobData } from "@videosdgx/shared";
import type { JobInputs } from "../families/family.js";

/**
 * A job's input files from the store, each checked against the digest its params recorded at submission:
 * a missing or altered file fails the job for good (another attempt would read the same bytes).
 */
export async function readJobInputs(store: InputStore, data: JobData): Promise<JobInputs> {
  if (data.image_key === undefined) return {};
  const image = await store.get(data.image_key).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") throw new JobFailure("invalid_job_data", `the job's image (${data.image_key}) is no longer in the input store`, false);
    throw err;
  });
  const sha256 = createHash("sha256").update(image).digest("hex");
  if (sha256 !== data.image?.sha256) {
    throw new JobFailure("invalid_job_data", `the job's image (${data.image_key}) has sha256 ${sha256}, not the ${data.image?.sha256 ?? "(none)"} it was submitted with`, false);
  }
  return { image };
}
