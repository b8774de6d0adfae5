// What a model's constraints (GET /v1/models) allow, as choices for the form: only valid values are offered.

/** Smallest and largest frame counts of the rule step*k + offset within [min, max]. */
export function frameBounds(r) {
  const lo = r.offset + r.step * Math.max(0, Math.ceil((r.min - r.offset) / r.step));
  const hi = r.offset + r.step * Math.floor((r.max - r.offset) / r.step);
  return [lo, hi];
}

/** The valid frame count nearest to duration * fps (ties to the longer video), as the API computes it. */
export function framesForDuration(r, seconds, fps) {
  const [lo, hi] = frameBounds(r);
  const target = seconds * fps;
  const k = Math.round((Math.min(Math.max(target, lo), hi) - r.offset) / r.step);
  const candidates = [k - 1, k, k + 1].map((j) => r.offset + r.step * j).filter((n) => n >= lo && n <= hi);
  return candidates.reduce((best, c) => (Math.abs(c - target) <= Math.abs(best - target) ? c : best));
}

const NAMED_SIZES = [
  ["480p", 848, 480], ["480p", 832, 480], ["480p", 854, 480], ["720p", 1280, 720], ["1080p", 1920, 1080],
  ["576p", 1024, 576], ["square", 512, 512], ["square", 256, 256], ["square", 128, 128], ["square", 64, 64],
  ["portrait 480p", 480, 848], ["portrait 480p", 480, 832], ["portrait 720p", 720, 1280],
];

const fits = (res, w, h) =>
  w % res.multiple === 0 && h % res.multiple === 0 && w >= res.min_width && w <= res.max_width && h >= res.min_height && h <= res.max_height;

/** Sizes to pick from: the model's default and the usual presets it allows, each "WxH", first preset of a name only. */
export function sizeChoices(res) {
  const out = [{ value: `${res.default_width}x${res.default_height}`, label: `${res.default_width}×${res.default_height} (model default)` }];
  const named = new Set();
  for (const [name, w, h] of NAMED_SIZES) {
    const value = `${w}x${h}`;
    if (!fits(res, w, h) || out.some((o) => o.value === value) || named.has(name)) continue;
    named.add(name);
    out.push({ value, label: `${name} (${w}×${h})` });
  }
  return out;
}

/** The width/height inputs' bounds: the lowest multiple inside the range, so the input's step lands on valid values. */
export function dimensionBounds(res, axis) {
  const min = axis === "width" ? res.min_width : res.min_height;
  const max = axis === "width" ? res.max_width : res.max_height;
  return { min: Math.ceil(min / res.multiple) * res.multiple, max: Math.floor(max / res.multiple) * res.multiple, step: res.multiple };
}

/** Frame rates to pick from: the usual ones inside the model's range, and its default. */
export function fpsChoices(range) {
  const usual = [8, 12, 15, 16, 24, 25, 30, 48, 50, 60];
  return [...new Set([range.default, ...usual.filter((f) => f >= range.min && f <= range.max)])].sort((a, b) => a - b);
}

/** The steps input's bounds: with a steps multiple (magi), its lowest and highest multiples in range, stepping by it. */
export function stepsInput(range, multiple = 1) {
  return { min: Math.ceil(range.min / multiple) * multiple, max: Math.floor(range.max / multiple) * multiple, step: multiple };
}

/** The frame-count input's bounds: starting at the lowest valid count, its step gives exactly the valid ones. */
export function frameInput(r) {
  const [lo, hi] = frameBounds(r);
  return { min: lo, max: hi, step: r.step };
}
