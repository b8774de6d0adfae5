import { h } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import htm from "htm";
import { api } from "./api.js";
import { dimensionBounds, fpsChoices, frameBounds, frameInput, framesForDuration, sizeChoices, stepsInput } from "./rules.js";

const html = htm.bind(h);
const SEED_MAX = 0xffffffff;
const randomSeed = () => crypto.getRandomValues(new Uint32Array(1))[0];
const LAST_SEED_ITEM = "videosdgx.last_seed";

/** The form's values for a model: its defaults, or a finished job's params ("make another like this"). */
function initialForm(model, from) {
  const c = model.constraints;
  const p = from && from.model === model.name ? from : undefined;
  const size = `${p?.width ?? c.resolution.default_width}x${p?.height ?? c.resolution.default_height}`;
  return {
    prompt: p?.prompt ?? "",
    negative_prompt: p?.negative_prompt ?? "",
    lengthMode: "frames",
    num_frames: p?.num_frames ?? c.frames.default,
    duration_s: p?.duration_s ?? Number((c.frames.default / c.fps.default).toFixed(2)),
    size: sizeChoices(c.resolution).some((s) => s.value === size) ? size : "custom",
    width: p?.width ?? c.resolution.default_width,
    height: p?.height ?? c.resolution.default_height,
    fps: p?.fps ?? c.fps.default,
    steps: p?.steps ?? c.steps.default,
    guidance: p?.guidance ?? c.guidance.default,
  };
}

/** A picked file as a data URL, the JSON form of the request's `image`. */
const readAsDataUrl = (file) =>
  new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });

/** The request body the form describes. */
function requestBody(model, f, seedMode, seed) {
  const [width, height] = (f.size === "custom" ? [f.width, f.height] : f.size.split("x")).map(Number);
  const body = { model: model.name, prompt: f.prompt, width, height, fps: Number(f.fps), steps: Number(f.steps), guidance: Number(f.guidance) };
  if (f.negative_prompt) body.negative_prompt = f.negative_prompt;
  if (f.lengthMode === "frames") body.num_frames = Number(f.num_frames);
  else body.duration_s = Number(f.duration_s);
  if (seedMode === "fixed") body.seed = Number(seed);
  return body;
}

function Field({ id, label, hint, children }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${children}
    ${hint && html`<p class="hint" id=${`${id}-hint`}>${hint}</p>`}
  </div>`;
}

function ApiErrorBox({ error }) {
  if (!error) return null;
  const details = Array.isArray(error.details) ? error.details : error.details?.violations;
  return html`<div class="error" role="alert">
    <strong>${error.status ? `The API refused the job (${error.code})` : "Could not reach the API"}:</strong> ${error.message}
    ${error.retryAfterMs !== undefined && html` <span class="retry-after">Nothing was queued: try again in ${Math.max(1, Math.ceil(error.retryAfterMs / 1000))} s.</span>`}
    ${Array.isArray(details) && html`<ul>${details.map((d) => html`<li>${d.field}: ${d.message}${d.nearest ? ` (nearest valid: ${d.nearest.join(", ")})` : ""}</li>`)}</ul>`}
  </div>`;
}

export function MakeView({ models, modelsError, params }) {
  const fromId = params.get("from");
  const [template, setTemplate] = useState(undefined); // params of the job to make another like
  const [templateError, setTemplateError] = useState(undefined);
  useEffect(() => {
    if (!fromId) return;
    api(`/v1/jobs/${encodeURIComponent(fromId)}`).then((j) => setTemplate(j.params), setTemplateError);
  }, [fromId]);

  if (modelsError) return html`<${ApiErrorBox} error=${modelsError} />`;
  if (!models || (fromId && !template && !templateError)) return html`<p aria-live="polite">Loading models…</p>`;
  return html`<${MakeForm} models=${models} template=${template} sameSeed=${params.get("seed") === "same"} />`;
}

function MakeForm({ models, template, sameSeed }) {
  const installed = models.filter((m) => m.installed && m.constraints);
  const [modelName, setModelName] = useState(template?.model ?? installed[0]?.name ?? "");
  const model = models.find((m) => m.name === modelName);
  const [form, setForm] = useState(() => (model?.constraints ? initialForm(model, template) : undefined));
  const [seedMode, setSeedMode] = useState(template && sameSeed ? "fixed" : "random");
  const [seed, setSeed] = useState(template?.seed ?? randomSeed());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(undefined);
  // One Idempotency-Key per distinct request: a double click (or a retry after a lost answer) makes one job.
  const idem = useRef({ body: "", key: "" });
  // The picked image, being read as a data URL (models with capabilities.i2v).
  const image = useRef(undefined);

  const choose = (name) => {
    const m = models.find((x) => x.name === name);
    setModelName(name);
    setForm(m?.constraints ? initialForm(m, template) : undefined);
    image.current = undefined;
  };
  const set = (field) => (e) => setForm({ ...form, [field]: e.currentTarget.value });
  const c = model?.constraints;
  const sizes = useMemo(() => (c ? sizeChoices(c.resolution) : []), [c]);

  const submit = async (e) => {
    e.preventDefault();
    if (!e.currentTarget.reportValidity()) return;
    const body = requestBody(model, form, seedMode, seed);
    if (model.capabilities?.i2v && image.current) body.image = await image.current;
    const text = JSON.stringify(body);
    if (idem.current.body !== text) idem.current = { body: text, key: crypto.randomUUID() };
    setBusy(true);
    setError(undefined);
    try {
      const job = await api("/v1/jobs", { method: "POST", body, idempotencyKey: idem.current.key });
      localStorage.setItem(LAST_SEED_ITEM, String(job.params.seed));
      location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const notInstalled = models.filter((m) => !m.installed);
  const length = c && form && (form.lengthMode === "frames" ? Number(form.num_frames) : framesForDuration(c.frames, Number(form.duration_s), Number(form.fps)));
  const [lo, hi] = c ? frameBounds(c.frames) : [0, 0];
  const steps = c && stepsInput(c.steps, model.steps_multiple);
  const lastSeed = localStorage.getItem(LAST_SEED_ITEM);

  return html`<form class="panel make" onSubmit=${submit} aria-labelledby="make-title">
    <h1 id="make-title">Make a video</h1>
    <${Field} id="model" label="Model" hint=${model && !model.installed ? model.reason : undefined}>
      <select id="model" value=${modelName} onChange=${(e) => choose(e.currentTarget.value)} required>
        ${installed.length === 0 && html`<option value="">No model is installed</option>`}
        ${models.map((m) => html`<option value=${m.name} disabled=${!m.installed || !m.constraints}>
          ${m.display_name}${m.installed ? "" : " — not installed"}</option>`)}
      </select>
    <//>
    ${notInstalled.length > 0 && html`<details class="unavailable"><summary>Why ${notInstalled.length} model${notInstalled.length > 1 ? "s are" : " is"} not available</summary>
      <ul>${notInstalled.map((m) => html`<li><strong>${m.display_name}</strong>: ${m.reason}</li>`)}</ul></details>`}
    ${c && form && html`
      <${Field} id="prompt" label="Prompt">
        <textarea id="prompt" rows="3" required value=${form.prompt} onInput=${set("prompt")} placeholder="A cat walking on a beach at sunset"></textarea>
      <//>
      ${model.capabilities?.i2v && html`<${Field} id="image" label="Image (the first frame)" hint="JPEG, PNG or WebP; scaled to cover the size below and centre-cropped.">
        <input id="image" type="file" accept="image/jpeg,image/png,image/webp" required
          onChange=${(e) => { const file = e.currentTarget.files?.[0]; image.current = file ? readAsDataUrl(file) : undefined; }} />
      <//>`}
      <${Field} id="negative-prompt" label="Negative prompt" hint="What the video should not show (optional).">
        <textarea id="negative-prompt" rows="2" value=${form.negative_prompt} onInput=${set("negative_prompt")}></textarea>
      <//>
      <fieldset class="length">
        <legend>Length</legend>
        <div class="row">
          <label><input type="radio" name="length-mode" value="frames" checked=${form.lengthMode === "frames"} onChange=${set("lengthMode")} /> Frames</label>
          <label><input type="radio" name="length-mode" value="duration" checked=${form.lengthMode === "duration"} onChange=${set("lengthMode")} /> Duration</label>
        </div>
        ${form.lengthMode === "frames"
          ? html`<${Field} id="num-frames" label="Frames" hint=${`${c.frames.step === 1 ? "any count" : `${c.frames.step}k+${c.frames.offset}`} from ${lo} to ${hi}`}>
              <input id="num-frames" type="number" inputmode="numeric" required ...${frameInput(c.frames)} value=${form.num_frames} onInput=${set("num_frames")} aria-describedby="num-frames-hint" />
            <//>`
          : html`<${Field} id="duration" label="Duration (seconds)" hint=${`${(lo / form.fps).toFixed(2)} to ${(hi / form.fps).toFixed(2)} s; becomes ${length} frames`}>
              <input id="duration" type="number" inputmode="decimal" required step="0.01" min=${(lo / form.fps).toFixed(2)} max=${(hi / form.fps).toFixed(2)}
                value=${form.duration_s} onInput=${set("duration_s")} aria-describedby="duration-hint" />
            <//>`}
      </fieldset>
      <div class="grid">
        <${Field} id="size" label="Size">
          <select id="size" value=${form.size} onChange=${set("size")}>
            ${sizes.map((s) => html`<option value=${s.value}>${s.label}</option>`)}
            <option value="custom">Custom…</option>
          </select>
        <//>
        <${Field} id="fps" label="Frames per second">
          <select id="fps" value=${String(form.fps)} onChange=${set("fps")}>
            ${fpsChoices(c.fps).map((f) => html`<option value=${String(f)}>${f}${f === c.fps.default ? " (default)" : ""}</option>`)}
          </select>
        <//>
      </div>
      ${form.size === "custom" && html`<div class="grid">
        <${Field} id="width" label="Width" hint=${`a multiple of ${c.resolution.multiple}`}>
          <input id="width" type="number" required ...${dimensionBounds(c.resolution, "width")} value=${form.width} onInput=${set("width")} />
        <//>
        <${Field} id="height" label="Height" hint=${`a multiple of ${c.resolution.multiple}`}>
          <input id="height" type="number" required ...${dimensionBounds(c.resolution, "height")} value=${form.height} onInput=${set("height")} />
        <//>
      </div>`}
      <fieldset class="seed">
        <legend>Seed</legend>
        <div class="row">
          <label><input type="radio" name="seed-mode" value="random" checked=${seedMode === "random"} onChange=${() => setSeedMode("random")} /> Random</label>
          <label><input type="radio" name="seed-mode" value="fixed" checked=${seedMode === "fixed"} onChange=${() => setSeedMode("fixed")} /> Fixed</label>
          <label class="sr-only" for="seed">Seed value</label>
          <input id="seed" type="number" min="0" max=${SEED_MAX} step="1" required=${seedMode === "fixed"} disabled=${seedMode !== "fixed"}
            value=${seed} onInput=${(e) => setSeed(e.currentTarget.value)} />
          <button type="button" class="secondary" onClick=${() => { setSeed(randomSeed()); setSeedMode("fixed"); }}>New seed</button>
          ${lastSeed && html`<button type="button" class="secondary" onClick=${() => { setSeed(Number(lastSeed)); setSeedMode("fixed"); }}>Reuse last seed (${lastSeed})</button>`}
        </div>
      </fieldset>
      <details class="advanced">
        <summary>Advanced</summary>
        <div class="grid">
          <${Field} id="steps" label="Steps" hint=${`${model.steps_multiple ? `a multiple of ${model.steps_multiple}, ` : ""}${steps.min} to ${steps.max}, default ${c.steps.default}`}>
            <input id="steps" type="number" required ...${steps} value=${form.steps} onInput=${set("steps")} aria-describedby="steps-hint" />
          <//>
          <${Field} id="guidance" label="Guidance" hint=${`${c.guidance.min} to ${c.guidance.max}, default ${c.guidance.default}`}>
            <input id="guidance" type="number" required min=${c.guidance.min} max=${c.guidance.max} step="any" value=${form.guidance} onInput=${set("guidance")} />
          <//>
        </div>
      </details>
      <${ApiErrorBox} error=${error} />
      <div class="row">
        <button type="submit" class="primary" disabled=${busy} aria-busy=${busy}>${busy ? "Submitting…" : "Generate"}</button>
      </div>`}
  </form>`;
}
