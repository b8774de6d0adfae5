import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { readSourceRecord } from "@videosdgx/shared";
import { sha256File } from "./folder.js";

/** `checksums.sha256` in `sha256sum -c` format: what every generated built-in model records. */
const CHECKSUMS_FILE = "checksums.sha256";

export type HashCheck =
  | { ok: true; files: number; from: string; at?: "pull" | "export" | "generation" }
  | { ok: true; files: 0; from: null; warning: string }
  | { ok: false; problem: string };

async function checksumsFile(dir: string): Promise<Map<string, { sha256: string; size?: number }> | undefined> {
  const text = await readFile(path.join(dir, CHECKSUMS_FILE), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const rows = new Map<string, { sha256: string }>();
  for (const line of text.split("\n").filter((l) => l.trim())) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (m) rows.set(m[2]!, { sha256: m[1]! });
  }
  return rows;
}

/**
 * Every file the folder's record names is present, of the recorded size and sha256 (the record written at
 * pull or export, else `checksums.sha256`). The first file that differs is named.
 */
export async function checkRecordedHashes(dir: string): Promise<HashCheck> {
  const record = await readSourceRecord(dir);
  if (record instanceof Error) return { ok: false, problem: record.message };
  const files = record ? new Map(Object.entries(record.files)) : await checksumsFile(dir);
  const from = record ? "videosdgx-source.json" : CHECKSUMS_FILE;
  if (!files) return { ok: true, files: 0, from: null, warning: "no hashes were recorded for this folder (no videosdgx-source.json or checksums.sha256): files cannot be checked byte for byte" };
  for (const [rel, want] of files) {
    const file = path.join(dir, rel);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return { ok: false, problem: `${rel} is missing (recorded in ${from})` };
    if (want.size !== undefined && info.size !== want.size) {
      return { ok: false, problem: `${rel} has ${info.size} bytes, ${want.size} were recorded (half-copied or truncated)` };
    }
    const got = await sha256File(file);
    if (got !== want.sha256) return { ok: false, problem: `${rel} does not match its recorded sha256 (${want.sha256}, now ${got}): the file is damaged` };
  }
  const at = record ? ({ hub: "pull", exported: "export", generated: "generation" } as const)[record.kind] : undefined;
  return { ok: true, files: files.size, from, ...(at ? { at } : {}) };
}
