import assert from "node:assert/strict";

export interface SseEvent {
  id?: string;
  event?: string;
  data?: any;
  comment?: string;
}

/** A minimal EventSource reader over fetch: yields events and comment lines until the stream ends. */
export async function* readEvents(url: string, headers: Record<string, string> = {}, signal?: AbortSignal): AsyncGenerator<SseEvent> {
  const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = text.indexOf("\n\n")) >= 0) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const e: SseEvent = {};
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) e.comment = line.slice(1).trim();
        else if (line.startsWith("id: ")) e.id = line.slice(4);
        else if (line.startsWith("event: ")) e.event = line.slice(7);
        else if (line.startsWith("data: ")) e.data = JSON.parse(line.slice(6));
      }
      yield e;
    }
  }
}
