/** One metric family of the Prometheus text exposition format: its declared type and its samples' names. */
export interface MetricFamily {
  type: string;
  /** Names of the samples seen (a histogram's are `<name>_bucket`, `_sum`, `_count`). */
  samples: Set<string>;
  /** Names of the labels its samples carry (a histogram's `le` included). */
  labels: Set<string>;
}

const SUFFIXES: Record<string, string[]> = { histogram: ["_bucket", "_sum", "_count"], summary: ["_sum", "_count"] };

/** Parses the text format (version 0.0.4): `# TYPE` lines declare families, other lines are samples. */
export function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/.exec(line);
    if (type) {
      families.set(type[1]!, { type: type[2]!, samples: new Set(), labels: new Set() });
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( \d+)?$/.exec(line);
    if (!sample) throw new Error(`not an exposition line: ${line}`);
    const name = sample[1]!;
    const family = families.get(name) ?? [...families].find(([f, m]) => (SUFFIXES[m.type] ?? []).some((s) => name === f + s))?.[1];
    if (!family) throw new Error(`sample ${name} of no declared family`);
    family.samples.add(name);
    for (const [, label] of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) family.labels.add(label!);
  }
  return families;
}

/**
 * The family a queried name belongs to, and whether samples of that name exist: `x_bucket`, `x_sum` and
 * `x_count` of histogram `x` are its samples, as PromQL queries them.
 */
export function lookUp(families: Map<string, MetricFamily>, name: string): { family: string; type: string; hasSamples: boolean } | undefined {
  const direct = families.get(name);
  if (direct) return { family: name, type: direct.type, hasSamples: direct.samples.has(name) };
  for (const [family, m] of families) {
    if ((SUFFIXES[m.type] ?? []).some((s) => name === family + s)) return { family, type: m.type, hasSamples: m.samples.has(name) };
  }
  return undefined;
}
