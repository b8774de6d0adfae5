import assert from "node:assert/strict";
import { test } from "node:test";
import { createJobRequestSchema, ValidationError } from "@videosdgx/shared";
import { parseOr400 } from "./validate.js";

const schema = createJobRequestSchema(2000);

function detailsOf(body: unknown): { field: string; message: string }[] {
  try {
    parseOr400(schema, body, "job request");
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    return err.details as { field: string; message: string }[];
  }
  assert.fail("the body was accepted");
}

test("an unknown field names the one meant: a part of its name, or a typo away", () => {
  assert.deepEqual(detailsOf({ model: "tiny", prompt: "a fox", frames: 65 }), [{ field: "frames", message: "frames is not a known field; did you mean num_frames?" }]);
  assert.deepEqual(detailsOf({ model: "tiny", prompt: "a fox", widht: 64 }), [{ field: "widht", message: "widht is not a known field; did you mean width?" }]);
});

test("an unknown field with nothing near lists the known ones, nested objects' too", () => {
  const [top] = detailsOf({ model: "tiny", prompt: "a fox", colour: "red" });
  assert.equal(top!.field, "colour");
  assert.match(top!.message, /^colour is not a known field \(known: model, prompt, negative_prompt, .*num_frames, duration_s\)$/);
  const [nested] = detailsOf({ model: "tiny", prompt: "a fox", webhook: { url: "https://example.com/hook", evnets: ["job.completed"] } });
  assert.equal(nested!.field, "webhook.evnets");
  assert.match(nested!.message, /^webhook\.evnets is not a known field; did you mean events\?$/);
});
