/* OmniTrack console: a device's twin row and the chart of its 1-minute windows of one metric. */
"use strict";

/** The device page of `id`, charting `metric` when given (the one an alert's rule watches). */
function openDevice(id, metric) {
  $("#device-form").elements.device.value = id;
  if (metric) $("#device-form").elements.metric.value = metric;
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

