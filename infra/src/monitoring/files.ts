import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

/** The monitoring files in infra/monitoring, as compose mounts them. */
export const MONITORING_DIR = fileURLToPath(new URL("../../monitoring/", import.meta.url));
export const DASHBOARD_FILE = path.join(MONITORING_DIR, "grafana/dashboards/videosdgx.json");
export const PROMETHEUS_FILE = path.join(MONITORING_DIR, "prometheus.yml");

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every PromQL expression of the dashboard: panel targets (rows' nested panels too) and query variables. */
export function dashboardQueries(): { where: string; expr: string }[] {
  const dash = JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as { panels: Panel[]; templating?: { list: { name: string; query?: { query?: string } | string }[] } };
  const out: { where: string; expr: string }[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel "${p.title}"`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dash.panels);
  for (const v of dash.templating?.list ?? []) {
    const q = typeof v.query === "string" ? v.query : v.query?.query;
    // label_values(metric, label) is Grafana's, not PromQL: its metric selector is the first argument.
    const selector = q && /^label_values\((.+),\s*\w+\)$/.exec(q)?.[1];
    if (selector) out.push({ where: `variable $${v.name}`, expr: selector });
  }
  return out;
}

export interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  authorization?: { type?: string; credentials_file?: string };
  static_configs: { targets: string[] }[];
}

export function prometheusConfig(): { scrape_configs: ScrapeConfig[] } {
  return parse(readFileSync(PROMETHEUS_FILE, "utf8")) as { scrape_configs: ScrapeConfig[] };
}
