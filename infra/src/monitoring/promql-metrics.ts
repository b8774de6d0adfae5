import { parser } from "@prometheus-io/lezer-promql";

/**
 * Grafana's variables are not PromQL: they are replaced by values of the right kind before parsing
 * (ranges such as `$__rate_interval` by a duration; `$model` only occurs inside label matcher strings).
 */
const GRAFANA_RANGE_VARIABLES = /\$__(rate_interval|interval|range)\b/g;

type Tree = ReturnType<typeof parser.parse>;

/** Parses a dashboard expression (Grafana's range variables replaced); throws on what Prometheus would not parse. */
function parse(expr: string): { text: string; tree: Tree } {
  const text = expr.replace(GRAFANA_RANGE_VARIABLES, "5m");
  const tree = parser.parse(text);
  const errors: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`at ${node.from}: ${JSON.stringify(text.slice(Math.max(0, node.from - 10), node.to + 10))}`);
    },
  });
  if (errors.length > 0) throw new Error(`not valid PromQL: ${expr} (${errors.join("; ")})`);
  return { text, tree };
}

/** Every vector selector's name and every `__name__="..."` matcher between `from` and `to`. */
function selectedNames(text: string, tree: Tree, from: number, to: number): string[] {
  const names = new Set<string>();
  tree.iterate({
    from,
    to,
    enter(node) {
      if (node.from < from || node.to > to) return;
      if (node.name === "VectorSelector") {
        const id = node.node.getChild("Identifier");
        if (id) names.add(text.slice(id.from, id.to));
      }
      if (node.name === "UnquotedLabelMatcher" || node.name === "QuotedLabelMatcher") {
        const label = node.node.getChild("LabelName") ?? node.node.getChild("QuotedLabelName");
        const op = node.node.getChild("MatchOp");
        const value = node.node.getChild("StringLiteral");
        if (label && op && value && text.slice(label.from, label.to).replace(/"/g, "") === "__name__" && text.slice(op.from, op.to) === "=") {
          names.add(JSON.parse(text.slice(value.from, value.to)) as string);
        }
      }
    },
  });
  return [...names].sort();
}

/**
 * The metric names an expression selects, parsed with Prometheus's own grammar (the one its UI uses):
 * every vector selector's name and every `__name__="..."` matcher. Label names, function and
 * aggregation names are not metrics. Throws on an expression Prometheus would not parse.
 */
export function metricNamesOf(expr: string): string[] {
  const { text, tree } = parse(expr);
  return selectedNames(text, tree, 0, text.length);
}

/** One aggregation of an expression: the metrics it aggregates and whether a label stays apart in its result. */
export interface Aggregation {
  text: string;
  metrics: string[];
  keeps(label: string): boolean;
}

/** Every aggregation (`sum by (...)`, `max without (...)`, a bare `sum(...)`) of an expression. */
export function aggregationsOf(expr: string): Aggregation[] {
  const { text, tree } = parse(expr);
  const out: Aggregation[] = [];
  tree.iterate({
    enter(node) {
      if (node.name !== "AggregateExpr") return;
      const body = node.node.getChild("FunctionCallBody");
      const modifier = node.node.getChild("AggregateModifier");
      const grouping = modifier?.getChild("GroupingLabels");
      const labels = grouping ? grouping.getChildren("LabelName").map((l) => text.slice(l.from, l.to)) : [];
      const by = Boolean(modifier?.getChild("By"));
      out.push({
        text: text.slice(node.from, node.to),
        metrics: body ? selectedNames(text, tree, body.from, body.to) : [],
        // `by` keeps only its labels; `without` all but its own; neither keeps none.
        keeps: (label) => (modifier ? (by ? labels.includes(label) : !labels.includes(label)) : false),
      });
    },
  });
  return out;
}
