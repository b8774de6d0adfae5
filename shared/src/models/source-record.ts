import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

/**
 * `videosdgx-source.json`, written beside a folder's files by whatever put them there (`models pull`, and
 * `models export`): where they came from and every file's size and sha256, so `models verify` can tell a
 * damaged or half-copied folder from a sound one without the network.
 */
export const SOURCE_RECORD_FILE = "videosdgx-source.json";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const SourceRecordSchema = z.object({
  schema_version: z.literal(1),
  kind: z.enum(["hub", "exported", "generated"]),
  model: z.string(),
  created_at: z.string(),
  /** For `hub`: each repository, the revision asked for and the commit it resolved to. */
  repos: z
    .array(z.object({ repo: z.string(), revision: z.string(), commit: z.string(), into: z.string().optional() }))
    .default([]),
  /** For `exported`: the checkpoint it was made from (free text: a folder, or repo@commit). */
  from: z.string().optional(),
  /** Path relative to the folder (forward slashes) -> size and sha256. */
  files: z.record(z.string(), z.object({ size: z.number().int().nonnegative(), sha256: Sha256 })),
});
export type SourceRecord = z.infer<typeof SourceRecordSchema>;

/** The folder's record; undefined when it has none, an Error naming the problem when it is unreadable. */
export async function readSourceRecord(dir: string): Promise<SourceRecord | Error | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dir, SOURCE_RECORD_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return err as Error;
  }
  try {
    const parsed = SourceRecordSchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    return new Error(`${SOURCE_RECORD_FILE} is invalid at ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  } catch (err) {
    return new Error(`${SOURCE_RECORD_FILE} is not valid JSON: ${(err as Error).message}`);
  }
}
