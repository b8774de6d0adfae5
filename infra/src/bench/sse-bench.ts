import { Agent, request, type ClientRequest } from "node:http";
import { Platform } from "../e2e/platform.js";
import { LeanHttpPool, rate } from "./lean-http.js";
import { round, type BenchRow } from "./stats.js";

const STREAMS = 200;

/** Opens an SSE stream and reads it until closed; resolves once the first event arrived. */
function openStream(agent: Agent, base: string, id: string): Promise<ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/v1/jobs/${id}/events`, { agent }, (res) => {
      res.once("data", () => resolve(req));
      res.resume();
    });
    req.on("error", (err) => (req.destroyed ? undefined : reject(err)));
    req.end();
  });
}

/**
 * The API's status-read throughput (`GET /v1/jobs/:id`, 16 in flight) with 200 open event streams
 * against the same reads with none. Streams follow 200 queued jobs while a worker runs jobs of another
 * model, so every stream's listener sees the events that flow meanwhile. Rounds alternate.
 */
export async function sseBench(reads: number): Promise<BenchRow[]> {
  const p = await Platform.start({ extraTinyModels: ["busy"], env: { LOG_LEVEL: "info" } });
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  let stopTraffic = false;
  try {
    const job = (model: string, i: number) => ({ model, prompt: `sse bench ${i}`, width: 64, height: 64, num_frames: 5, steps: 20, seed: i });
    const waiting: string[] = [];
    for (let i = 0; i < STREAMS; i++) waiting.push((await p.request("POST", "/v1/jobs", job("tiny", i))).body.id);
    await p.startWorker("busy");
    const traffic = (async () => {
      for (let i = 0; !stopTraffic; i++) await p.waitForTerminal((await p.request("POST", "/v1/jobs", job("busy", i))).body.id);
    })();
    const reader = await LeanHttpPool.open(p.base, 16);
    const statusReads = waiting.map((id) => reader.prepare("GET", `/v1/jobs/${id}`));
    const read = (i: number) => reader.call(statusReads[i % STREAMS]!, 200);
    await rate(200, 16, read); // warm-up
    const without: number[] = [];
    const withStreams: number[] = [];
    for (let round = 0; round < 3; round++) {
      without.push(await rate(reads, 16, read));
      const streams = await Promise.all(waiting.map((id) => openStream(agent, p.base, id)));
      withStreams.push(await rate(reads, 16, read));
      for (const s of streams) s.destroy();
    }
    reader.close();
    stopTraffic = true;
    await traffic;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const [ours, base] = [median(withStreams), median(without)];
    return [{
      bench: "sse", metric: `status reads/s with ${STREAMS} open event streams`, unit: "reads/s",
      platform: round(ours, 0), baseline: round(base, 0), baseline_name: "same reads, no stream open",
      ratio: round(ours / base), target: "(reported)", pass: true,
    }];
  } finally {
    stopTraffic = true;
    agent.destroy();
    await p.stop();
  }
}
