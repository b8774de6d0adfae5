import type { FamilyModule } from "./family.js";
import { genericFamily } from "./generic/generic-family.js";
import { ltx2Family } from "./ltx2/ltx2-family.js";
import { magiFamily } from "./magi/magi-family.js";
import { wanFamily } from "./wan/wan-family.js";

/**
 * The family modules a worker can run, by the name a manifest's `family` gives. Adding a family is a
 * folder beside these, its contract in shared/src/models/families, and one line here and there.
 */
export const FAMILIES: ReadonlyMap<string, FamilyModule> = new Map([genericFamily, wanFamily, ltx2Family, magiFamily].map((f) => [f.contract.name, f]));
