import { h, render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { api, apiKey, onAuthProblem } from "./api.js";
import { MakeView } from "./make.js";
import { JobView } from "./job.js";
import { HistoryView } from "./history.js";
import { HostView } from "./host.js";

const html = htm.bind(h);

/** The view in the address bar's hash: #/ (make), #/make?from=ID&seed=same, #/jobs/ID, #/history, #/host. */
function parseRoute() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  return { path: path || "/", params: new URLSearchParams(query) };
}

function useRoute() {
  const [route, setRoute] = useState(parseRoute);
  useEffect(() => {
    const onChange = () => setRoute(parseRoute());
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

/** Asks for the API key when the API wants one (401) or refuses it (403), with the API's own words. */
function KeyPanel({ problem, onSaved, onClose }) {
  const [value, setValue] = useState("");
  const input = useRef(null);
  useEffect(() => input.current?.focus(), [problem]);
  const save = (e) => {
    e.preventDefault();
    apiKey.set(value.trim());
    setValue("");
    onSaved();
  };
  const title = problem?.status === 403 ? "This key may not do that" : problem ? "This API needs a key" : "API key";
  return html`<section class="panel key-panel" role="dialog" aria-modal="false" aria-labelledby="key-title">
    <h2 id="key-title">${title}</h2>
    ${problem && html`<p class="error" role="alert">${problem.message}</p>`}
    <p class="hint">The key is kept in this browser only (local storage) and sent as <code>Authorization: Bearer</code>.
      ${apiKey.get() ? " A key is stored now." : " No key is stored."}</p>
    <form onSubmit=${save}>
      <label for="api-key">API key</label>
      <input id="api-key" ref=${input} type="password" autocomplete="off" spellcheck="false" required
        placeholder="vdgx_…" value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />
      <div class="row">
        <button type="submit">Use this key</button>
        ${apiKey.get() && html`<button type="button" class="secondary" onClick=${() => { apiKey.set(""); onSaved(); }}>Forget the stored key</button>`}
        <button type="button" class="secondary" onClick=${onClose}>Close</button>
      </div>
    </form>
  </section>`;
}

function App() {
  const route = useRoute();
  const [models, setModels] = useState(undefined);
  const [modelsError, setModelsError] = useState(undefined);
  const [authProblem, setAuthProblem] = useState(undefined);
  const [showKey, setShowKey] = useState(false);
  const [generation, setGeneration] = useState(0); // bumped when the key changes: everything reloads

  useEffect(() => onAuthProblem((err) => { setAuthProblem(err); setShowKey(true); }), []);
  useEffect(() => {
    api("/v1/models").then((b) => { setModels(b.models); setModelsError(undefined); }, (err) => setModelsError(err));
  }, [generation]);

  const keySaved = () => { setAuthProblem(undefined); setShowKey(false); setGeneration((g) => g + 1); };
  const nav = [["#/", "Make"], ["#/history", "History"], ["#/host", "Host"]];
  const current = route.path.startsWith("/history") ? "#/history" : route.path.startsWith("/host") ? "#/host" : route.path.startsWith("/jobs") ? "" : "#/";

  let view;
  if (route.path.startsWith("/jobs/")) view = html`<${JobView} key=${route.path + generation} id=${decodeURIComponent(route.path.slice(6))} />`;
  else if (route.path === "/history") view = html`<${HistoryView} key=${generation} models=${models} params=${route.params} />`;
  else if (route.path === "/host") view = html`<${HostView} key=${generation} models=${models} />`;
  else view = html`<${MakeView} key=${generation} models=${models} modelsError=${modelsError} params=${route.params} />`;

  return html`<header class="top">
      <a class="brand" href="#/">VideosDGX <span>Studio</span></a>
      <nav aria-label="Sections"><ul>
        ${nav.map(([href, label]) => html`<li><a href=${href} aria-current=${current === href ? "page" : undefined}>${label}</a></li>`)}
        <li><button type="button" class="link" aria-expanded=${showKey} onClick=${() => setShowKey(!showKey)}>Key</button></li>
      </ul></nav>
    </header>
    ${showKey && html`<${KeyPanel} problem=${authProblem} onSaved=${keySaved} onClose=${() => setShowKey(false)} />`}
    <main id="main">${view}</main>`;
}

const root = document.getElementById("app");
root.textContent = "";
render(html`<${App} />`, root);
