import type { Manifest } from "../manifest.js";
import type { FamilyContract } from "./contract.js";
import { genericContract } from "./generic.js";
import { ltx2Contract } from "./ltx2.js";
import { magiContract } from "./magi.js";
import { wanContract } from "./wan.js";

/**
 * The families a model folder may name. A family is its contract here and its runtime module in
 * workers/src/families/<name>/ (a test checks both lists match); one that is in neither (none
 * today) is refused at inspection as not supported yet.
 */
export const FAMILY_CONTRACTS: ReadonlyMap<string, FamilyContract> = new Map(
  [genericContract, wanContract, ltx2Contract, magiContract].map((c) => [c.name, c]),
);

/** The negative prompt a job runs with when the request gives none: the manifest's, else its family's. */
export function defaultNegativePrompt(manifest: Manifest): string {
  return manifest.text.default_negative_prompt ?? FAMILY_CONTRACTS.get(manifest.family)?.defaultNegativePrompt ?? "";
}
