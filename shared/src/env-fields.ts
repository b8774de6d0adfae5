import { z } from "zod";

/** A yes/no environment variable, in the spellings operators use. */
export const envBool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");
