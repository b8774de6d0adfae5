import assert from "node:assert/strict";
import { test } from "node:test";
import { KNOWN_MODELS, ValidationError, frameBounds, framesForDuration, resolveJobParams, type Manifest } from "@videosdgx/shared";

/*
 * The studio's form offers only what a model's rules allow, computed in the browser by api/web/rules.js, a
 * plain-JS port of shared's constraints (the page has no bundler to share the TypeScript). This keeps the
 * port honest: for every catalog model, the same bounds and frame counts as shared, and every choice
 * the form offers (or its inputs' min/max/step let through) is one the API's own resolution accepts.
 */

// The page's module itself, as the browser loads it (from dist/http or src/http alike).
const rules = await import(new URL("../../web/rules.js", import.meta.url).href);

/** The API's verdict on a request for the model: the params it would run, or the fields it refuses. */
function resolve(m: Manifest, fields: Record<string, number>): { ok: true; num_frames: number } | { ok: false; fields: string[] } {
  try {
    const params = resolveJobParams(m, { model: m.name, prompt: "p", ...fields } as Parameters<typeof resolveJobParams>[1]);
    return { ok: true, num_frames: params.num_frames };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return { ok: false, fields: (err.details as { field: string }[]).map((v) => v.field) };
  }
}

/** What an <input type=number min max step> lets through: in range and a whole number of steps above min. */
const inputAllows = (input: { min: number; max: number; step: number }, n: number) => n >= input.min && n <= input.max && (n - input.min) % input.step === 0;

for (const m of KNOWN_MODELS.values()) {
  const c = m.constraints;

  test(`${m.name}: frame bounds, the frames input and durations as shared computes them`, () => {
    assert.deepEqual(rules.frameBounds(c.frames), frameBounds(c.frames));
    const input = rules.frameInput(c.frames);
    for (let n = c.frames.min - c.frames.step; n <= c.frames.max + c.frames.step; n++) {
      assert.equal(inputAllows(input, n), resolve(m, { num_frames: n }).ok, `${n} frames`);
    }
    const [, hi] = frameBounds(c.frames);
    for (const fps of rules.fpsChoices(c.fps)) {
      for (let centis = 0; centis <= Math.ceil((hi / fps) * 100) + 50; centis += 7) {
        const seconds = centis / 100;
        const page = rules.framesForDuration(c.frames, seconds, fps);
        assert.equal(page, framesForDuration(c.frames, seconds, fps), `${seconds} s at ${fps} fps`);
        const api = resolve(m, { duration_s: seconds, fps });
        // The API refuses a duration far outside the model's range; within it, it runs the frames the page showed.
        if (api.ok) assert.equal(api.num_frames, page, `${seconds} s at ${fps} fps`);
      }
    }
  });

  test(`${m.name}: every size, fps and steps the form offers is accepted, and only those`, () => {
    const sizes = rules.sizeChoices(c.resolution);
    assert.equal(sizes[0].value, `${c.resolution.default_width}x${c.resolution.default_height}`, "the model's default first");
    for (const { value } of sizes) {
      const [width, height] = value.split("x").map(Number);
      assert.deepEqual(resolve(m, { width, height }), { ok: true, num_frames: c.frames.default }, value);
    }
    for (const axis of ["width", "height"] as const) {
      const input = rules.dimensionBounds(c.resolution, axis);
      const range = axis === "width" ? [c.resolution.min_width, c.resolution.max_width] : [c.resolution.min_height, c.resolution.max_height];
      for (let n = range[0]! - c.resolution.multiple; n <= range[1]! + c.resolution.multiple; n++) {
        assert.equal(inputAllows(input, n), resolve(m, { [axis]: n }).ok, `${axis} ${n}`);
      }
    }
    const fps = rules.fpsChoices(c.fps);
    assert.ok(fps.includes(c.fps.default));
    for (const f of fps) assert.ok(resolve(m, { fps: f }).ok, `${f} fps`);
    const steps = rules.stepsInput(c.steps, m.sampling?.steps_multiple);
    assert.ok(inputAllows(steps, c.steps.default), "the default steps");
    for (let n = c.steps.min - 1; n <= c.steps.max + 1; n++) assert.equal(inputAllows(steps, n), resolve(m, { steps: n }).ok, `${n} steps`);
  });
}

test("the catalog has a model with a steps multiple, so the steps input's step is tested", () => {
  assert.ok([...KNOWN_MODELS.values()].some((m) => (m.sampling?.steps_multiple ?? 1) > 1));
});
