/**
 * RFC 9110 (14.1.2): a suffix range (`bytes=-N`) longer than the representation selects all of it. The
 * range parser under Express's sendFile calls it unsatisfiable (416) instead, so such a spec becomes `0-`.
 */
export function wholeFileForLongSuffix(range: string, size: number): string {
  const eq = range.indexOf("=");
  if (eq < 0 || range.slice(0, eq).trim().toLowerCase() !== "bytes") return range;
  const specs = range.slice(eq + 1).split(",").map((spec) => {
    const suffix = /^\s*-\s*(\d+)\s*$/.exec(spec)?.[1];
    return suffix !== undefined && Number(suffix) > size ? "0-" : spec;
  });
  return `${range.slice(0, eq + 1)}${specs.join(",")}`;
}

/** Whether the header has a suffix spec at all: only then is the file's size needed. */
export const hasSuffixRange = (range: string): boolean => /[=,]\s*-/.test(range);
