/* OmniTrack console: the network map. Nodes coloured by health (GET /twin/nodes, live from /twin/stream),
 * lanes as one path, and the lanes with a stalled shipment drawn apart (red, dashed, with the number of stalled
 * shipments at their middle; GET /twin/lanes?stalled=true, live from /twin/stream?kind=node,lane). Zoom and pan: pan.js. */
"use strict";

async function loadMap() {
  const [net, nodes, stalled] = await Promise.all([api("/network"), allPages("/twin/nodes", "nodes"),
    allPages("/twin/lanes", "lanes", { stalled: true })]);
  if (net.status !== 200) return;
  state.network = net.data;
  state.levels = {};
  for (const n of nodes || []) state.levels[n.id] = n;
  state.laneById = new Map(net.data.lanes.map((l) => [l.id, l]));
  state.stalled = new Map((stalled || []).map((l) => [l.id, { count: l.stalled_shipments, trackers: l.trackers }]));
  $("#device-ids").replaceChildren(...net.data.devices.map((d) => el("option", { value: d.id })));
  $("#node-ids").replaceChildren(...net.data.nodes.map((n) => el("option", { value: n.id }, n.name)));
  drawMap();
}

/* Why batched: 1,000 nodes recoloured live (or a zoom per wheel tick) must not each touch the DOM at once.
 * Changes are collected and applied in one requestAnimationFrame: one style and layout pass per frame. */
const paint = { dirty: new Set(), lanes: false, frame: 0 };
const view = { box: null, home: null, frame: 0, drag: null, dragged: false };
const NODE_PX = 4.5;  // a node's radius on screen, whatever the zoom
const LANE_FONT_PX = 12;  // a stalled lane's count, likewise
const FOCUS_GAP_PX = 40;

function drawMap() {
  const { nodes, lanes } = state.network;
  const map = $("#map");
  const lons = nodes.map((n) => n.position.lon), lats = nodes.map((n) => n.position.lat);
  const pad = 3, x0 = Math.min(...lons) - pad, x1 = Math.max(...lons) + pad;
  const y0 = -Math.max(...lats) - pad, y1 = -Math.min(...lats) + pad;
  view.home = { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  state.nodeById = new Map(nodes.map((n) => [n.id, n]));
  state.circles = new Map();
  const frag = document.createDocumentFragment();
  // every lane in one path: 1,000 <line> elements cost a frame in two while panning; lanes take no clicks (a
  // stalled lane's count does: drawStalled)
  let d = "", drawn = 0;
  for (const l of lanes) {
    const a = state.nodeById.get(l.src)?.position, b = state.nodeById.get(l.dst)?.position;
    if (a && b) { d += `M${a.lon} ${-a.lat}L${b.lon} ${-b.lat}`; drawn += 1; }
  }
  const lanesPath = svg("path", { class: "lanes", d, "data-count": drawn });
  const nodesGroup = svg("g", { class: "nodes" });
  const r = Math.max(view.home.w, view.home.h) / 400;
  for (const n of nodes) {
    const c = svg("circle", { class: "node", cx: n.position.lon, cy: -n.position.lat, r, "data-id": n.id });
    c.append(svg("title"));
    state.circles.set(n.id, c);
    nodesGroup.append(c);
    paintNode(n.id);
  }
  frag.append(lanesPath, svg("g", { class: "stalled" }), nodesGroup);
  map.replaceChildren(frag);
  drawStalled();
  setView(view.home);
  updateCounts();
}

function updateCounts() {
  const { nodes, lanes } = state.network;
  const judged = nodes.filter((n) => state.levels[n.id]?.level).length;
  let shipments = 0;
  for (const s of state.stalled.values()) shipments += s.count;
  $("#map-counts").textContent = `${nodes.length} nodes, ${lanes.length} lanes, ${judged} judged`;
  $("#stalled-counts").textContent = `${state.stalled.size} lanes, ${shipments} shipments`;
}

/** The lanes with a stalled shipment now: a few, so one element each (a dashed path and its count), redrawn
 * whole at most once a frame. */
function drawStalled() {
  const group = $("#map g.stalled");
  if (!group) return;
  const parts = [];
  for (const [id, s] of [...state.stalled].sort()) {
    const lane = state.laneById.get(id);
    const a = lane && state.nodeById.get(lane.src)?.position, b = lane && state.nodeById.get(lane.dst)?.position;
    if (!a || !b || !s.count) continue;
    const tip = `${id} ${lane.src} → ${lane.dst} (${lane.mode}): ${s.count} stalled shipment${s.count > 1 ? "s" : ""}`;
    const path = svg("path", { class: "lane-stalled", d: `M${a.lon} ${-a.lat}L${b.lon} ${-b.lat}`, "data-lane": id,
      "data-count": s.count });
    path.append(svg("title"));
    path.firstChild.textContent = tip;
    const label = svg("text", { class: "lane-count", x: (a.lon + b.lon) / 2, y: -(a.lat + b.lat) / 2, "data-lane": id });
    label.textContent = `⚠ ${s.count}`;
    label.append(svg("title"));
    label.lastChild.textContent = tip;
    parts.push(path, label);
  }
  group.replaceChildren(...parts);
}

function paintNode(id) {
  const c = state.circles.get(id);
  if (!c) return;
  const twin = state.levels[id];
  const level = twin?.level || "unknown";
  const cls = `node level-${["ok", "degraded", "critical"].includes(level) ? level : "unknown"}`
    + (c.classList.contains("selected") ? " selected" : "");
  if (c.getAttribute("class") !== cls) c.setAttribute("class", cls);
  if (c.getAttribute("data-level") !== level) c.setAttribute("data-level", level);
  const node = state.nodeById.get(id);
  const tip = `${id} ${node?.name || ""}: ${level}, cover ${fmt(twin?.days_of_cover ?? node?.days_of_cover, 1)} d`;
  if (c.firstChild.textContent !== tip) c.firstChild.textContent = tip;
}

function schedulePaint(id) {
  paint.dirty.add(id);
  if (!paint.frame) paint.frame = requestAnimationFrame(flushPaint);
}

function scheduleStalled() {
  paint.lanes = true;
  if (!paint.frame) paint.frame = requestAnimationFrame(flushPaint);
}

function flushPaint() {
  paint.frame = 0;
  for (const id of paint.dirty) paintNode(id);
  paint.dirty.clear();
  if (paint.lanes) { paint.lanes = false; drawStalled(); }
  updateCounts();
}

async function reloadLevels() {  // after an overflow or a reconnection: the stream does not replay what it missed
  const nodes = await allPages("/twin/nodes", "nodes");
  if (!nodes) return;
  for (const n of nodes) { state.levels[n.id] = n; schedulePaint(n.id); }
}

async function reloadStalled() {  // likewise for the lanes
  const lanes = await allPages("/twin/lanes", "lanes", { stalled: true });
  if (!lanes) return;
  state.stalled = new Map(lanes.map((l) => [l.id, { count: l.stalled_shipments, trackers: l.trackers }]));
  scheduleStalled();
}

/** `/twin/stream?kind=node,lane`: a node's health, or a lane's stalled shipments. */
function onMapChange(name, change) {
  if (name === "overflow") { reloadLevels(); reloadStalled(); return; }
  if (name === "twin" && change.type === "node_health") onTwinChange(name, change);
  if (name !== "twin" || change.type !== "lane_stall") return;
  if (change.stalled_shipments > 0) {
    state.stalled.set(change.lane_id, { count: change.stalled_shipments, trackers: change.trackers });
  } else state.stalled.delete(change.lane_id);
  scheduleStalled();
}

function onTwinChange(name, change) {
  if (name === "overflow") { reloadLevels(); return; }
  if (name !== "twin" || change.type !== "node_health") return;
  state.levels[change.node_id] = { ...(state.levels[change.node_id] || {}), level: change.current,
    days_of_cover: change.days_of_cover ?? state.levels[change.node_id]?.days_of_cover };
  schedulePaint(change.node_id);
}


async function showNode(id) {
  const panel = $("#node-panel");
  for (const c of document.querySelectorAll("#map circle.selected")) c.classList.remove("selected");
  state.circles.get(id)?.classList.add("selected");
  const node = state.nodeById.get(id);
  const twin = await api(`/twin/node/${encodeURIComponent(id)}`, { quiet: [404] });  // 404: not judged yet
  const row = twin.status === 200 ? twin.data.state || {} : {};
  const devices = state.network.devices.filter((d) => d.node_id === id);
  const stalled = [...state.stalled.keys()].filter((l) => [state.laneById.get(l)?.src, state.laneById.get(l)?.dst]
    .includes(id));
  panel.replaceChildren(
    el("h3", {}, `${node.name} (${id})`),
    el("p", {}, `${node.kind}, ${node.region}; criticality ${node.criticality}`),
    el("p", {}, `Health: ${row.level || "not judged yet"}; cover ${fmt(row.days_of_cover ?? node.days_of_cover, 1)} days`),
    stalled.length ? el("p", { class: "error" }, "Stalled lanes: ", ...stalled.map((l) => laneLink(l))) : "",
    el("h4", {}, `Devices (${devices.length})`),
    el("ul", {}, ...devices.map((d) => el("li", {}, deviceLink(d.id), ` ${d.kind}`))));
}

function deviceLink(id, metric) {
  return el("a", { href: "#", "data-device": id, onclick: (e) => { e.preventDefault(); openDevice(id, metric); } }, id);
}

function laneLink(id) {
  return el("a", { href: "#", onclick: (e) => { e.preventDefault(); showLane(id); } }, id + " ");
}

/** A stalled lane's panel: its ends and the trackers whose shipment stopped (each to its device page). */
function showLane(id) {
  const lane = state.laneById.get(id) || { src: "?", dst: "?", mode: "?" };
  const s = state.stalled.get(id) || { count: 0, trackers: [] };
  $("#node-panel").replaceChildren(
    el("h3", { "data-lane": id }, `Lane ${id}`),
    el("p", {}, `${lane.src} → ${lane.dst}, ${lane.mode}, lead time ${fmt(lane.lead_time_days, 1)} d`),
    el("p", { class: s.count ? "error" : "" }, `${s.count} stalled shipment${s.count === 1 ? "" : "s"}`),
    el("ul", {}, ...s.trackers.map((t) => el("li", {}, deviceLink(t)))));
}

