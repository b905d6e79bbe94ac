/* OmniTrack console: zoom and pan of the network map (the SVG's viewBox, drawn at most once per frame). */
"use strict";

function redrawView() {
  if (view.box && !view.frame) view.frame = requestAnimationFrame(applyView);
}

function setView(box, committing = false) {
  if (!committing) cancelGesture();
  const home = view.home;
  const w = Math.min(Math.max(box.w, home.w / 5000), home.w * 2);
  const h = w * (home.h / home.w);
  view.box = { x: box.x + (box.w - w) / 2, y: box.y + (box.h - h) / 2, w, h };
  if (!view.frame) view.frame = requestAnimationFrame(applyView);
}

function applyView() {
  view.frame = 0;
  const { x, y, w, h } = view.box;
  const map = $("#map");
  map.setAttribute("viewBox", `${x} ${y} ${w} ${h}`);
  map.style.transform = "";  // a gesture's preview, replaced by the drawing it previewed, in the same frame
  // nodes keep their size on screen (NODE_PX): a radius in user units, one custom property for all of them
  const box = mapRect();
  if (!box.width || !box.height) return;  // the map tab is hidden: redone when it is shown (switchTab)
  const perPx = 1 / Math.min(box.width / w, box.height / h);  // user units per screen pixel
  map.style.setProperty("--node-r", `${NODE_PX * perPx}px`);
  map.style.setProperty("--lane-font", `${LANE_FONT_PX * perPx}px`);
  map.dataset.zoom = (view.home.w / w).toFixed(2);
}

/* Why a gesture is a CSS transform: redrawing 1,000 nodes and lanes at a new viewBox every frame of a drag or a
 * wheel spin costs a raster of the whole map per frame (dropped frames on a busy machine). While the gesture
 * lasts, the map drawn at its start is moved and scaled by the compositor (`transform`, one property); the map
 * is drawn again at the view the gesture reached when the drag ends or the wheel rests (GESTURE_REST_MS). */
const GESTURE_REST_MS = 150;
const gesture = { base: null, k: 1, tx: 0, ty: 0, timer: 0, frame: 0 };

/** The map's box on the page without a gesture's transform: its frame's, which the SVG fills (the frame has no
 * border or padding: clientLeft and clientWidth are rounded to whole pixels, and the zoom's pivot drifted). */
function mapRect() {
  const r = $("#map").parentElement.getBoundingClientRect();
  return { left: r.left, top: r.top, width: r.width, height: r.height };
}

function beginGesture() {
  if (gesture.base) return gesture.base;
  const r = mapRect(), b = view.box;
  const s = Math.min(r.width / b.w, r.height / b.h);
  gesture.base = { box: { ...b }, s, offX: (r.width - b.w * s) / 2, offY: (r.height - b.h * s) / 2, left: r.left, top: r.top };
  Object.assign(gesture, { k: 1, tx: 0, ty: 0 });
  return gesture.base;
}

function previewGesture() {
  if (gesture.frame) return;
  gesture.frame = requestAnimationFrame(() => {
    gesture.frame = 0;
    if (gesture.base) $("#map").style.transform = `matrix(${gesture.k},0,0,${gesture.k},${gesture.tx},${gesture.ty})`;
  });
}

function cancelGesture() {
  clearTimeout(gesture.timer);
  gesture.base = null;
}

/** The view the gesture shows: screen = k * (off + (user - box) * s) + t, drawn as off + (user - box') * s * k. */
function commitGesture() {
  const g = gesture.base;
  if (!g) return;
  clearTimeout(gesture.timer);
  const { k, tx, ty } = gesture;
  gesture.base = null;
  const b = g.box;
  setView({ x: b.x + (g.offX * (1 - k) - tx) / (g.s * k), y: b.y + (g.offY * (1 - k) - ty) / (g.s * k),
    w: b.w / k, h: b.h / k }, true);
}

/** Zoom by `factor` (the viewBox's size is multiplied by it) about a point in page coordinates (default: the
 * map's centre). */
function zoomAt(factor, clientX, clientY) {
  const g = beginGesture();
  const px = clientX === undefined ? g.offX + g.box.w * g.s / 2 : clientX - g.left;
  const py = clientY === undefined ? g.offY + g.box.h * g.s / 2 : clientY - g.top;
  const home = view.home;
  const k = Math.min(Math.max(gesture.k / factor, g.box.w / (home.w * 2)), g.box.w / (home.w / 5000));
  const z = k / gesture.k;
  Object.assign(gesture, { k, tx: z * gesture.tx + px * (1 - z), ty: z * gesture.ty + py * (1 - z) });
  previewGesture();
  clearTimeout(gesture.timer);
  if (!view.drag?.moving) gesture.timer = setTimeout(commitGesture, GESTURE_REST_MS);  // else: at the drag's end
}

/** Centre on a node, zoomed in (x20 at least) until its nearest neighbour is FOCUS_GAP_PX away on screen:
 * nodes a few hundred metres apart are one dot at world scale. */
function focusNode(id) {
  const pos = state.nodeById.get(id)?.position;
  const frame = mapRect();
  if (!pos || !frame.width) return;
  let near = Infinity;
  for (const n of state.network.nodes) {
    if (n.id !== id) near = Math.min(near, Math.hypot(n.position.lon - pos.lon, n.position.lat - pos.lat));
  }
  const basePx = Math.min(frame.width / view.home.w, frame.height / view.home.h);  // px per degree at x1
  const zoom = Math.max(20, FOCUS_GAP_PX / (Math.max(near, 1e-6) * basePx));
  const w = Math.min(view.box.w, view.home.w / zoom), h = w * (view.home.h / view.home.w);
  setView({ x: pos.lon - w / 2, y: -pos.lat - h / 2, w, h });
}

function bindMap() {
  const map = $("#map");
  map.addEventListener("wheel", (e) => {
    if (!view.box) return;
    e.preventDefault();
    zoomAt(Math.min(Math.max(Math.exp(e.deltaY * 0.0015), 0.5), 2), e.clientX, e.clientY);
  }, { passive: false });
  map.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 || !view.box) return;
    view.drag = { id: e.pointerId, cx: e.clientX, cy: e.clientY, moving: false };
    view.dragged = false;
  });
  map.addEventListener("pointermove", (e) => {
    const d = view.drag;
    if (!d || d.id !== e.pointerId) return;
    const dx = e.clientX - d.cx, dy = e.clientY - d.cy;
    if (!d.moving && Math.hypot(dx, dy) < 4) return;  // a click, not a drag
    if (!d.moving) {
      d.moving = true;
      map.setPointerCapture(e.pointerId);
      map.classList.add("panning");
      beginGesture();
      clearTimeout(gesture.timer);  // a wheel gesture going on continues as this drag
      Object.assign(d, { tx: gesture.tx, ty: gesture.ty });
    }
    Object.assign(gesture, { tx: d.tx + dx, ty: d.ty + dy });
    previewGesture();
  });
  const end = (e) => {
    if (!view.drag || view.drag.id !== e.pointerId) return;
    view.dragged = view.drag.moving;
    if (view.drag.moving) commitGesture();
    view.drag = null;
    map.classList.remove("panning");
  };
  map.addEventListener("pointerup", end);
  map.addEventListener("pointercancel", end);
  map.addEventListener("click", (e) => {  // one listener for every node
    if (view.dragged) { view.dragged = false; return; }
    const id = e.target.closest?.("circle.node")?.dataset.id;
    if (id) showNode(id);
    const lane = e.target.closest?.("text.lane-count")?.dataset.lane;
    if (lane) showLane(lane);
  });
  $("#zoom-in").addEventListener("click", () => { if (view.box) { zoomAt(0.5); commitGesture(); } });
  $("#zoom-out").addEventListener("click", () => { if (view.box) { zoomAt(2); commitGesture(); } });
  $("#zoom-fit").addEventListener("click", () => view.home && setView(view.home));
  window.addEventListener("resize", redrawView);
}

