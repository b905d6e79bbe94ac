/* OmniTrack console: vanilla JS over the API (/api/v1) with the operator's bearer token.
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

async function api(path, { method = "GET", body, query } = {}) {
  const qs = new URLSearchParams(clean(query)).toString();
  const headers = { Authorization: "Bearer " + state.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(API + path + (qs ? "?" + qs : ""), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const type = res.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await res.json() : null;
  if (res.status === 401) { signOut("The token was refused: " + (data?.message || "")); throw new Error("401"); }
  if (res.status === 429) status(`Rate limited: retry in ${res.headers.get("Retry-After")} s`, true);
  else if (res.status >= 400) status(`${method} ${path}: ${res.status} ${data?.message || ""}`, true);
  return { status: res.status, data, headers: res.headers };
}

/** Follow a Server-Sent Events route; `onEvent(name, data)` per event. Reconnects until sign-out. */
function follow(path, query, onEvent, indicator) {
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
    while (!ctrl.signal.aborted) {
      try {
        const res = await fetch(API + path + (qs ? "?" + qs : ""), {
          headers: { Authorization: "Bearer " + state.token }, signal: ctrl.signal });
        if (res.status === 401) { signOut("The token was refused."); return; }
        if (res.status !== 200) throw new Error("HTTP " + res.status);
        indicator.textContent = "on";
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n/g, "\n");
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            handle(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
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

// --- sign-in ------------------------------------------------------------------------------------

function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
  } catch { return null; }
}

function signOut(why = "") {
  for (const ctrl of state.streams) ctrl.abort();
  state.streams = [];
  state.token = "";
  sessionStorage.removeItem("omnitrack.token");
  $("#app").hidden = true;
  $("#login").hidden = false;
  $("#signout").hidden = true;
  $("#identity").textContent = "not signed in";
  $("#login-error").textContent = why;
}

async function signIn(token) {
  state.token = token.trim();
  const who = claims(state.token);
  if (!who) { signOut("That is not a JWT."); return; }
  try {
    const probe = await api("/twin/nodes", { query: { limit: 1 } });
    if (probe.status !== 200) { signOut(`The API answered ${probe.status}.`); return; }
  } catch { return; }
  sessionStorage.setItem("omnitrack.token", state.token);
  $("#identity").textContent = `${who.sub} (${(who.roles || []).join(", ")})`;
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#signout").hidden = false;
  await Promise.all([loadMap(), loadAlerts()]);
  follow("/twin/stream", { kind: "node" }, onTwinChange, $("#twin-live"));
}

// --- network map --------------------------------------------------------------------------------

async function loadMap() {
  const [net, nodes] = await Promise.all([api("/network"), api("/twin/nodes", { query: { limit: 1000 } })]);
  if (net.status !== 200) return;
  state.network = net.data;
  state.levels = {};
  for (const n of nodes.data?.nodes || []) state.levels[n.id] = n;
  $("#device-ids").replaceChildren(...net.data.devices.map((d) => el("option", { value: d.id })));
  $("#node-ids").replaceChildren(...net.data.nodes.map((n) => el("option", { value: n.id }, n.name)));
  drawMap();
}

function drawMap() {
  const { nodes, lanes } = state.network;
  const map = $("#map");
  const lons = nodes.map((n) => n.position.lon), lats = nodes.map((n) => n.position.lat);
  const pad = 3, x0 = Math.min(...lons) - pad, x1 = Math.max(...lons) + pad;
  const y0 = -Math.max(...lats) - pad, y1 = -Math.min(...lats) + pad;
  map.setAttribute("viewBox", `${x0} ${y0} ${x1 - x0} ${y1 - y0}`);
  const r = Math.max(x1 - x0, y1 - y0) / 400;
  const at = Object.fromEntries(nodes.map((n) => [n.id, n.position]));
  const parts = lanes.map((l) => svg("line", {
    class: "lane", x1: at[l.src].lon, y1: -at[l.src].lat, x2: at[l.dst].lon, y2: -at[l.dst].lat }));
  for (const n of nodes) {
    const c = svg("circle", { class: "node", cx: n.position.lon, cy: -n.position.lat, r, "data-id": n.id });
    c.append(svg("title"));
    c.addEventListener("click", () => showNode(n.id));
    parts.push(c);
  }
  map.replaceChildren(...parts);
  for (const n of nodes) paintNode(n.id);
  const judged = Object.keys(state.levels).length;
  $("#map-counts").textContent = `${nodes.length} nodes, ${lanes.length} lanes, ${judged} judged`;
}

function paintNode(id) {
  const c = $(`#map circle[data-id="${CSS.escape(id)}"]`);
  if (!c) return;
  const twin = state.levels[id];
  const level = twin?.level || "unknown";
  c.setAttribute("class", `node level-${["ok", "degraded", "critical"].includes(level) ? level : "unknown"}`);
  c.setAttribute("data-level", level);
  const node = state.network.nodes.find((n) => n.id === id);
  c.firstChild.textContent = `${id} ${node?.name || ""}: ${level}, cover ${fmt(twin?.days_of_cover ?? node?.days_of_cover, 1)} d`;
}

function onTwinChange(name, change) {
  if (name !== "twin" || change.type !== "node_health") return;
  state.levels[change.node_id] = { ...(state.levels[change.node_id] || {}), level: change.current,
    days_of_cover: change.days_of_cover ?? state.levels[change.node_id]?.days_of_cover };
  paintNode(change.node_id);
}

async function showNode(id) {
  const panel = $("#node-panel");
  for (const c of document.querySelectorAll("#map circle.selected")) c.classList.remove("selected");
  $(`#map circle[data-id="${CSS.escape(id)}"]`)?.classList.add("selected");
  const node = state.network.nodes.find((n) => n.id === id);
  const twin = await api(`/twin/node/${encodeURIComponent(id)}`);
  const row = twin.status === 200 ? twin.data.state || {} : {};
  const devices = state.network.devices.filter((d) => d.node_id === id);
  panel.replaceChildren(
    el("h3", {}, `${node.name} (${id})`),
    el("p", {}, `${node.kind}, ${node.region}; criticality ${node.criticality}`),
    el("p", {}, `Health: ${row.level || "not judged yet"}; cover ${fmt(row.days_of_cover ?? node.days_of_cover, 1)} days`),
    el("h4", {}, `Devices (${devices.length})`),
    el("ul", {}, ...devices.map((d) => el("li", {}, el("a", { href: "#", onclick: (e) => {
      e.preventDefault(); openDevice(d.id); } }, d.id), ` ${d.kind}`))));
}

// --- alerts -------------------------------------------------------------------------------------

function matchesFilters(alert) {
  const f = state.alertFilters;
  return (!f.active || String(alert.active) === f.active) && (!f.severity || alert.severity === f.severity)
    && (!f.site || alert.site_id === f.site) && (!f.rule || alert.rule === f.rule);
}

function alertRow(alert, fresh = false) {
  const ack = alert.status === "ACTIVE_UNACK"
    ? el("button", { class: "ack", onclick: (e) => ackAlert(alert.id, e.target) }, "Ack") : "";
  const subject = alert.subject_kind === "device"
    ? el("a", { href: "#", onclick: (e) => { e.preventDefault(); openDevice(alert.subject_id); } }, alert.subject_id)
    : alert.subject_id;
  return el("tr", { "data-id": alert.id, class: `sev-${alert.severity}${fresh ? " fresh" : ""}` },
    el("td", {}, alert.updated_at.replace("T", " ").slice(0, 19)), el("td", {}, alert.severity),
    el("td", {}, alert.site_id), el("td", {}, subject), el("td", {}, alert.rule),
    el("td", { class: "alert-status" }, alert.status), el("td", {}, ack));
}

let alertStream = null;

async function loadAlerts() {
  const form = new FormData($("#alert-filters"));
  state.alertFilters = clean(Object.fromEntries(form.entries()));
  const res = await api("/alerts", { query: { ...state.alertFilters, limit: 200 } });
  if (res.status !== 200) return;
  $("#alerts tbody").replaceChildren(...res.data.alerts.map((a) => alertRow(a)));
  $("#alerts-count").textContent = `${res.data.count} shown of ${res.data.total}`;
  if (alertStream) alertStream.abort();
  alertStream = follow("/alerts/stream", state.alertFilters, onAlertEvent, $("#alerts-live"));
}

function onAlertEvent(name, event) {
  if (name === "overflow") { loadAlerts(); return; }
  if (name !== "alert" || !matchesFilters(event.alert)) return;
  const body = $("#alerts tbody");
  body.querySelector(`tr[data-id="${CSS.escape(event.alert.id)}"]`)?.remove();
  body.prepend(alertRow(event.alert, true));
}

async function ackAlert(id, button) {
  button.disabled = true;
  const res = await api(`/alerts/${encodeURIComponent(id)}/commands`, { method: "POST", body: { action: "ack" } });
  button.textContent = res.status === 202 ? "ack sent" : `failed (${res.status})`;
  if (res.status === 202) status(`Acknowledgement of ${id} sent; it shows once the alert worker applied it.`);
}

// --- devices ------------------------------------------------------------------------------------

function openDevice(id) {
  $("#device-form").elements.device.value = id;
  switchTab("device");
  showDevice();
}

async function showDevice() {
  const form = $("#device-form").elements;
  const id = form.device.value.trim(), metric = form.metric.value, hours = Number(form.hours.value);
  const to = new Date(), from = new Date(to.getTime() - hours * 3600e3);
  const [twin, history] = await Promise.all([
    api(`/twin/device/${encodeURIComponent(id)}`),
    api(`/twin/device/${encodeURIComponent(id)}/history`, { query: { metric, from: from.toISOString(), to: to.toISOString() } })]);
  const row = twin.status === 200 ? twin.data.state || {} : null;
  const last = row?.last_values || {};
  $("#device-state").replaceChildren(
    el("h3", {}, id),
    el("p", {}, row ? `Status ${row.status}; last seen ${row.last_seen || "–"}; readings ${row.readings_applied ?? "–"}` : "No twin row yet."),
    el("p", {}, Object.entries(last).map(([m, v]) => `${m} = ${JSON.stringify(Array.isArray(v) ? v[0] : v?.value ?? v)}`).join("; ")));
  drawChart(history.status === 200 ? history.data.windows : [], metric);
}

function drawChart(windows, metric) {
  const chart = $("#chart"), W = 800, H = 260, L = 50, B = 30;
  const points = windows.map((w) => ({ t: Date.parse(w.start), open: w.open, ...w.metrics[metric] }))
    .filter((p) => p.count);
  if (!points.length) {
    chart.replaceChildren(svg("text", { x: W / 2 - 80, y: H / 2 }));
    chart.firstChild.textContent = `no ${metric} windows in this range`;
    $("#chart-caption").textContent = "";
    return;
  }
  const t0 = points[0].t, t1 = Math.max(points[points.length - 1].t, t0 + 60e3);
  const lo = Math.min(...points.map((p) => p.min)), hi = Math.max(...points.map((p) => p.max));
  const span = hi - lo || 1;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - 10);
  const y = (v) => H - B - ((v - lo) / span) * (H - B - 10);
  const band = points.map((p) => `${x(p.t)},${y(p.max)}`).concat(points.slice().reverse().map((p) => `${x(p.t)},${y(p.min)}`));
  const parts = [
    svg("line", { class: "axis", x1: L, y1: H - B, x2: W, y2: H - B }),
    svg("line", { class: "axis", x1: L, y1: 0, x2: L, y2: H - B }),
    svg("polygon", { class: "band", points: band.join(" ") }),
    svg("polyline", { class: "mean", points: points.map((p) => `${x(p.t)},${y(p.mean)}`).join(" ") }),
  ];
  for (const [text, px, py] of [[fmt(hi), 2, 14], [fmt(lo), 2, H - B], [new Date(t0).toISOString().slice(11, 16), L, H - 8],
    [new Date(t1).toISOString().slice(11, 16) + " UTC", W - 70, H - 8]]) {
    const label = svg("text", { x: px, y: py });
    label.textContent = text;
    parts.push(label);
  }
  for (const p of points.filter((q) => q.open)) parts.push(svg("circle", { class: "open", cx: x(p.t), cy: y(p.mean), r: 4 }));
  chart.replaceChildren(...parts);
  $("#chart-caption").textContent = `${points.length} one-minute windows of ${metric}: mean (line), min to max (band)`
    + (points.some((p) => p.open) ? "; the dot is the minute still open" : "");
}

// --- what-if ------------------------------------------------------------------------------------

async function askWhatIf() {
  const f = $("#whatif-form").elements;
  const list = (s) => s.split(",").map((v) => v.trim()).filter(Boolean);
  const body = { nodes: list(f.nodes.value), lanes: list(f.lanes.value), duration_days: Number(f.duration_days.value),
    trials: Number(f.trials.value) };
  const out = $("#whatif-result");
  out.replaceChildren(el("p", {}, "Asking…"));
  const res = await api("/scenarios", { method: "POST", body, query: { wait: 20 } });
  if (res.status === 400) {
    out.replaceChildren(el("p", { class: "error" }, res.data.message), el("pre", {}, JSON.stringify(res.data.detail, null, 2)));
    return;
  }
  if (res.status === 202) {
    out.replaceChildren(el("p", { class: "accepted" }, `Accepted as ${res.data.request_id}; waiting for the decision engine…`));
    for (let i = 0; i < 30; i++) {
      await sleep(2000);
      const got = await api(`/scenarios/${encodeURIComponent(res.data.request_id)}`);
      if (got.status === 200) { showResult(got.data); return; }
    }
    out.append(el("p", {}, "No result yet: is `omnitrack decider` running?"));
    return;
  }
  if (res.status === 200) showResult(res.data);
}

function showResult(result) {
  const rows = (result.strategies || []).map((s) => el("tr", {}, el("td", {}, s.name), el("td", {}, s.kind),
    el("td", {}, fmt(s.expected_loss, 0)), el("td", {}, fmt(s.cost_usd, 0)), el("td", {}, fmt(s.time_to_effect_days, 1))));
  $("#whatif-result").replaceChildren(
    el("p", { class: "result" }, `Result ${result.request_id}: ${result.status}${result.reason ? " (" + result.reason + ")" : ""}`),
    el("table", {}, el("thead", {}, el("tr", {}, ...["strategy", "kind", "expected loss", "cost", "days to effect"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows)),
    el("pre", {}, JSON.stringify(result, null, 2)));
}

// --- wiring -------------------------------------------------------------------------------------

function switchTab(name) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll("main .tab")) s.hidden = s.id !== `tab-${name}`;
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => switchTab(b.dataset.tab));
  $("#login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("#token").value); });
  $("#signout").addEventListener("click", () => signOut());
  $("#alert-filters").addEventListener("submit", (e) => { e.preventDefault(); loadAlerts(); });
  $("#device-form").addEventListener("submit", (e) => { e.preventDefault(); showDevice(); });
  $("#node-find").addEventListener("submit", (e) => {  // nodes a few km apart overlap on a world map
    e.preventDefault();
    const id = e.target.elements.node.value.trim();
    if (state.network?.nodes.some((n) => n.id === id)) showNode(id); else status(`No node ${id}`, true);
  });
  $("#whatif-form").addEventListener("submit", (e) => { e.preventDefault(); askWhatIf(); });
  if (state.token) signIn(state.token); else signOut();
});
