/* OmniTrack console: one alert's detail (GET /alerts/{id}): its lifecycle so far, the devices and readings behind
 * it (each to its device page and chart), and the operator's actions on it: ack, assign, comment, clear.
 *
 * Why every action is a command and nothing changes here: POST /alerts/{id}/commands only hands the command to
 * the alert worker (202), which applies it or refuses it; what the page shows is the worker's answer, the alert's
 * next version arriving on /alerts/stream (alerts.js reloads the open detail then), or a refused command. A
 * viewer gets the buttons disabled; the API refuses a viewer anyway (403, shown in the status line). */
"use strict";

const detail = { id: null, seq: 0 };

async function openAlert(id) {
  detail.id = id;
  const seq = ++detail.seq;  // a slow answer for an alert no longer open is dropped
  const res = await api(`/alerts/${encodeURIComponent(id)}`);
  if (res.status !== 200 || seq !== detail.seq) return;
  renderDetail(res.data);
  $("#alert-detail").scrollIntoView({ block: "nearest" });
}

function refreshDetail() { if (detail.id && !$("#alert-detail").hidden) openAlert(detail.id); }

function closeDetail() { detail.id = null; $("#alert-detail").hidden = true; $("#detail-actions").dataset.id = ""; }

function when(iso) { return iso ? iso.replace("T", " ").slice(0, 19) : "–"; }

function renderDetail(d) {
  const a = d.alert, box = $("#alert-detail");
  Object.assign(box.dataset, { id: a.id, status: a.status, version: a.version, assignee: a.assignee || "" });
  box.hidden = false;
  const subject = a.subject_kind === "device" ? deviceLink(a.subject_id, d.devices[0]?.metric) : a.subject_id;
  $("#detail-summary").replaceChildren(
    el("h3", {}, `${a.rule} on ${a.subject_kind} `, subject, ` (${a.severity})`),
    el("p", {}, `Status ${a.status}`, a.acknowledged_by ? ` by ${a.acknowledged_by}` : "", `; site ${a.site_id}; `,
      `assigned to ${a.assignee || "nobody"}; opened ${when(a.created_at)}; updated ${when(a.updated_at)}`
      + (a.cleared_at ? `; cleared ${when(a.cleared_at)} by ${a.cleared_by}` : "")),
    a.detail ? el("p", { class: "detail-text" }, a.detail) : "");
  renderActions(a);
  $("#detail-transitions tbody").replaceChildren(...d.transitions.map((t) => el("tr", { "data-kind": t.kind },
    el("td", {}, t.version), el("td", {}, when(t.at)), el("td", {}, t.kind), el("td", {}, t.actor || "engine"),
    el("td", {}, t.note || ""), el("td", {}, t.severity), el("td", {}, t.status), el("td", {}, t.assignee || ""))));
  $("#detail-comments").replaceChildren(...(a.comments || []).map((c) =>
    el("li", {}, `${when(c.at)} ${c.actor}: `, el("q", {}, c.text))));
  $("#detail-refused").replaceChildren(...d.refused_commands.map((r) =>
    el("li", { class: "error" }, `${when(r.at)} ${r.action} by ${r.actor} refused: ${r.reason} ${r.message}`)));
  $("#detail-devices tbody").replaceChildren(...d.devices.map(deviceRow));
  $("#detail-devices-none").hidden = d.devices.length > 0;
}

/** The action controls are built once per opened alert and only updated afterwards: a new version arriving
 * (every command makes one) must not wipe a comment being typed or replace a button about to be clicked. */
function renderActions(a) {
  const box = $("#detail-actions"), can = canAct();
  if (box.dataset.id !== a.id) {
    box.dataset.id = a.id;
    const button = (action, label, body) => el("button", { type: "button", class: `action ${action}`,
      "data-action": action, title: can ? "" : "needs the operator role",
      onclick: (e) => sendCommand(detail.id, body(), e.target) }, label);
    const assignee = el("input", { id: "detail-assignee", size: 14, placeholder: "assignee" });
    const note = el("input", { id: "detail-note", size: 30, placeholder: "comment" });
    box.replaceChildren(
      button("ack", "Ack", () => ({ action: "ack" })),
      assignee, button("assign", "Assign", () => ({ action: "assign", assignee: assignee.value.trim() || undefined })),
      note, button("comment", "Comment", () => ({ action: "comment", note: note.value.trim() })),
      button("clear", "Clear", () => ({ action: "clear" })),
      el("span", { id: "detail-status", class: "status" }));
    assignee.value = a.assignee || "";
  }
  const enabled = { ack: !a.acknowledged, assign: true, comment: true, clear: a.active };
  for (const b of box.querySelectorAll("button.action")) b.disabled = !can || !enabled[b.dataset.action];
  for (const input of box.querySelectorAll("input")) input.disabled = !can;
}

async function sendCommand(id, body, button) {
  const says = $("#detail-status");
  if (body.action === "comment" && !body.note) { says.textContent = "Write a comment first."; return; }
  button.disabled = true;
  const res = await api(`/alerts/${encodeURIComponent(id)}/commands`, { method: "POST", body });
  button.disabled = false;
  if (res.status === 202 && body.action === "comment") $("#detail-note").value = "";
  says.className = res.status === 202 ? "status" : "status error";
  says.textContent = res.status === 202 ? `${body.action} sent; it shows once the alert worker applied it`
    : `${body.action} refused (${res.status}): ${res.data?.message || ""}`;
  if (res.status !== 202) return;
  status(`${body.action} of ${id} sent; it shows once the alert worker applied it.`);
  // a command the worker refuses makes no alert event: read the detail again a little later for its refusal
  for (const ms of [2000, 6000]) setTimeout(() => { if (detail.id === id) refreshDetail(); }, ms);
}

function deviceRow(dev) {
  const values = Object.entries(dev.last_values || {}).map(([m, v]) => {
    const value = Array.isArray(v) ? v[0] : v?.value ?? v;
    return `${m} = ${typeof value === "object" ? JSON.stringify(value) : value}`;
  }).join("; ");
  return el("tr", { "data-device": dev.id },
    el("td", {}, deviceLink(dev.id, dev.metric)), el("td", {}, dev.why), el("td", {}, dev.kind || "?"),
    el("td", {}, dev.status || "no row yet"), el("td", {}, when(dev.last_seen)), el("td", {}, values || "–"),
    el("td", {}, sparkline(dev.recent, dev.metric)));
}

/** The device's recent 1-minute means of the rule's metric, as a small line (the device page has the chart). */
function sparkline(windows, metric) {
  const points = (windows || []).map((w) => w.metrics[metric]?.mean).filter((v) => typeof v === "number");
  const chart = svg("svg", { class: "spark", viewBox: "0 0 120 28", "data-points": points.length });
  if (!points.length) return metric ? `no ${metric} windows` : "";
  const lo = Math.min(...points), hi = Math.max(...points), span = hi - lo || 1;
  const step = points.length > 1 ? 116 / (points.length - 1) : 0;
  const xy = points.map((v, i) => [2 + i * step, 26 - ((v - lo) / span) * 24]);
  chart.append(svg("polyline", { points: xy.map((p) => p.join(",")).join(" ") }));
  const [lx, ly] = xy[xy.length - 1];
  chart.append(svg("circle", { cx: lx, cy: ly, r: 2.5 }));  // the latest minute (alone, a line shows nothing)
  chart.append(svg("title"));
  chart.lastChild.textContent = `${metric}: last ${points.length} one-minute means, ${fmt(lo)} to ${fmt(hi)}`;
  return chart;
}

function bindAlertDetail() {
  $("#detail-close").addEventListener("click", closeDetail);
}
