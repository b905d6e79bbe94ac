/* OmniTrack console: vanilla JS over the API (/api/v1) with the operator's bearer token. No build step: classic
 * scripts loaded in order (index.html), sharing one global scope. This one: the shared state, DOM helpers, the
 * API call, paging and the event-stream reader. map.js, pan.js (zoom and pan), alerts.js, devices.js, whatif.js,
 * then main.js (sign-in, tabs, wiring).
 *
 * Why fetch for the live streams and not EventSource: EventSource cannot send an Authorization header, and
 * a token in a query string ends up in logs. So the Server-Sent Events of /alerts/stream and /twin/stream are
 * read from a fetch body here, reconnecting after the server's `retry`.
 */
"use strict";

const API = "/api/v1";
const SVG_NS = "http://www.w3.org/2000/svg";
const state = {
  token: sessionStorage.getItem("omnitrack.token") || "",
  network: null,
  levels: {},           // node id -> {level, days_of_cover}
  streams: [],          // AbortControllers of the open streams
  alertFilters: {},
  alertTotal: 0,
  roles: [],
  circles: new Map(),   // node id -> its <circle>
  nodeById: new Map(),  // node id -> the network file's node
  laneById: new Map(),  // lane id -> the network file's lane
  stalled: new Map(),   // lane id -> {count, trackers}: lanes with a stalled shipment now
};

// --- helpers ------------------------------------------------------------------------------------

function $(sel) { return document.querySelector(sel); }

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function clean(query) {
  return Object.fromEntries(Object.entries(query || {}).filter(([, v]) => v !== "" && v !== null && v !== undefined));
}

function status(text, error = false) {
  const s = $("#status");
  s.textContent = text;
  s.className = error ? "status error" : "status";
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function fmt(n, digits = 2) { return typeof n === "number" ? n.toFixed(digits) : "–"; }

/** One API call; an error status is shown in the status line unless the caller expects it (`quiet`). */
async function api(path, { method = "GET", body, query, quiet = [] } = {}) {
  const qs = new URLSearchParams(clean(query)).toString();
  const headers = { Authorization: "Bearer " + state.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(API + path + (qs ? "?" + qs : ""), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const type = res.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await res.json() : null;
  if (res.status === 401) { signOut("The token was refused: " + (data?.message || "")); throw new Error("401"); }
  if (res.status === 429) status(`Rate limited: retry in ${res.headers.get("Retry-After")} s`, true);
  else if (res.status >= 400 && !quiet.includes(res.status)) status(`${method} ${path}: ${res.status} ${data?.message || ""}`, true);
  return { status: res.status, data, headers: res.headers };
}

/** Every item of a paged list route (`key`: the list's field), following `next` (GET /twin/nodes answers 1,000 at
 * most a page); null if a page fails. */
async function allPages(path, key, query = {}) {
  const out = [];
  let after = null;
  do {
    const res = await api(path, { query: { ...query, limit: 1000, after } });
    if (res.status !== 200) return null;
    out.push(...res.data[key]);
    after = res.data.next;
  } while (after);
  return out;
}

/** Follow a Server-Sent Events route; `onEvent(name, data)` per event. Reconnects until sign-out, and calls
 * `onReopen()` after each reconnection: the routes do not replay, so what was missed meanwhile must be read. */
function follow(path, query, onEvent, indicator, onReopen = () => {}) {
  const ctrl = new AbortController();
  state.streams.push(ctrl);
  let retry = 3000;
  const qs = new URLSearchParams(clean(query)).toString();
  const handle = (frame) => {
    let name = "message";
    const data = [];
    for (const line of frame.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const at = line.indexOf(":");
      const key = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
      if (key === "event") name = value; else if (key === "data") data.push(value);
      else if (key === "retry") retry = Number(value) || retry;
    }
    if (data.length) onEvent(name, JSON.parse(data.join("\n")));
  };
  (async () => {
    let opened = false;
    while (!ctrl.signal.aborted) {
      try {
        const res = await fetch(API + path + (qs ? "?" + qs : ""), {
          headers: { Authorization: "Bearer " + state.token }, signal: ctrl.signal });
        if (res.status === 401) { signOut("The token was refused."); return; }
        if (res.status !== 200) throw new Error("HTTP " + res.status);
        indicator.textContent = "on";
        if (opened) onReopen();
        opened = true;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          // one split per chunk: a chunk holds hundreds of events in a burst, slicing per event was quadratic
          const frames = (buffer + value.replace(/\r\n/g, "\n")).split("\n\n");
          buffer = frames.pop();
          for (const frame of frames) handle(frame);
        }
      } catch (err) {
        if (ctrl.signal.aborted) return;
      }
      indicator.textContent = "reconnecting";
      await sleep(retry);
    }
  })();
  return ctrl;
}

// --- tokens -------------------------------------------------------------------------------------

function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
  } catch { return null; }
}

/** The API decides; this only spares a viewer a button that would be refused (403). */
function canAct() { return state.roles.includes("operator") || state.roles.includes("admin"); }

