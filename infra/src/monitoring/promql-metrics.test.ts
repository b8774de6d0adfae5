import assert from "node:assert/strict";
import { test } from "node:test";
import { lookUp, parseExposition } from "./exposition.js";
import { aggregationsOf, metricNamesOf } from "./promql-metrics.js";

test("metric names come from selectors, not from labels, functions or aggregations", () => {
  assert.deepEqual(
    metricNamesOf('histogram_quantile(0.95, sum by (le, model) (rate(vdgx_a_bucket{model=~"$model", phase!="total"}[$__rate_interval])))'),
    ["vdgx_a_bucket"],
  );
  assert.deepEqual(metricNamesOf('sum(rate(b_total[5m])) / on (model) group_left max by (model) (c) or {__name__="d"} + e offset 1h'), ["b_total", "c", "d", "e"]);
  assert.deepEqual(metricNamesOf("count(up) without (instance)"), ["up"]);
  assert.throws(() => metricNamesOf("sum by (model (x)"), /not valid PromQL/);
});

test("aggregations say which metrics they fold and which labels stay apart", () => {
  const [outer, inner, bare] = aggregationsOf('max by (host, model) (x{host=~"$host"}) / on (model) group_left sum without (host) (rate(y[$__rate_interval])) + sum(z)');
  // Listed as the tree is walked: the binary expression's left side, then its right side's parts.
  assert.deepEqual([outer!.metrics, outer!.keeps("host"), outer!.keeps("kind")], [["x"], true, false]);
  assert.deepEqual([inner!.metrics, inner!.keeps("host"), inner!.keeps("model")], [["y"], false, true]);
  assert.deepEqual([bare!.metrics, bare!.keeps("host")], [["z"], false]);
  const [quantile, sum] = aggregationsOf("histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m]))) + count(up) by (host)");
  assert.deepEqual([quantile!.metrics, quantile!.keeps("le")], [["h_bucket"], true]);
  assert.deepEqual([sum!.metrics, sum!.keeps("host")], [["up"], true]);
});

test("the exposition parser files histogram samples under their family", () => {
  const families = parseExposition([
    "# HELP h a histogram",
    "# TYPE h histogram",
    'h_bucket{le="1"} 2',
    'h_bucket{le="+Inf"} 2',
    "h_sum 0.5",
    "h_count 2",
    "# TYPE g gauge",
    "# TYPE l gauge",
    'l{host="a",path="x=\\"y\\""} 1',
    "",
  ].join("\n"));
  assert.deepEqual([...families.get("h")!.labels], ["le"]);
  assert.deepEqual([...families.get("l")!.labels], ["host", "path"], "a quoted value is not a label");
  assert.deepEqual(lookUp(families, "h_bucket"), { family: "h", type: "histogram", hasSamples: true });
  assert.deepEqual(lookUp(families, "g"), { family: "g", type: "gauge", hasSamples: false });
  assert.equal(lookUp(families, "g_bucket"), undefined, "a gauge has no buckets");
  assert.equal(lookUp(families, "nothing"), undefined);
  assert.throws(() => parseExposition("orphan 1\n"), /of no declared family/);
});
