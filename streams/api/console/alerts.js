/* OmniTrack console: the alert list (GET /alerts, live from /alerts/stream) and its Ack; one alert's detail and
 * the other actions are in detail.js. */
"use strict";

function matchesFilters(alert) {
  const f = state.alertFilters;
  return (!f.active || String(alert.active) === f.active) && (!f.severity || alert.severity === f.severity)
    && (!f.site || alert.site_id === f.site) && (!f.rule || alert.rule === f.rule);
}

function alertRow(alert, fresh = false) {
  let ack = "";
  if (alert.status === "ACTIVE_UNACK" && canAct()) {
    ack = el("button", { class: "ack", onclick: (e) => ackAlert(alert.id, e.target) }, "Ack");
  } else if (alert.status === "ACTIVE_UNACK") {
    ack = el("button", { class: "ack", disabled: "", title: "needs the operator role" }, "Ack");
  }
  const subject = alert.subject_kind === "device" ? deviceLink(alert.subject_id) : alert.subject_id;
  const open = el("button", { class: "open-detail", type: "button", onclick: () => openAlert(alert.id) }, "Details");
  return el("tr", { "data-id": alert.id, "data-subject": alert.subject_id, "data-status": alert.status,
    class: `sev-${alert.severity}${fresh ? " fresh" : ""}` },
    el("td", {}, alert.updated_at.replace("T", " ").slice(0, 19)), el("td", {}, alert.severity),
    el("td", {}, alert.site_id), el("td", {}, subject), el("td", {}, alert.rule),
    el("td", { class: "alert-status" }, alert.status + (alert.acknowledged_by ? ` (${alert.acknowledged_by})` : "")),
    el("td", {}, ack, " ", open));
}

let alertStream = null;

async function loadAlerts() {
  const form = new FormData($("#alert-filters"));
  state.alertFilters = clean(Object.fromEntries(form.entries()));
  if (!(await fetchAlerts())) return;
  if (alertStream && !alertStream.signal.aborted) return;  // one stream whatever the filter
  // unfiltered: an alert leaving the filter (cleared, with "active" chosen) must leave the list, and the open
  // detail follows its alert whatever the filter; the filter is applied here (matchesFilters)
  alertStream = follow("/alerts/stream", {}, onAlertEvent, $("#alerts-live"), fetchAlerts);
}

async function fetchAlerts() {
  const res = await api("/alerts", { query: { ...state.alertFilters, limit: 200 } });
  if (res.status !== 200) return false;
  $("#alerts tbody").replaceChildren(...res.data.alerts.map((a) => alertRow(a)));
  state.alertTotal = res.data.total;
  countAlerts();
  return true;
}

function onAlertEvent(name, event) {
  if (name === "overflow") { fetchAlerts(); return; }  // the stream ends; it reconnects and reads again
  if (name !== "alert") return;
  if (event.alert.id === detail.id) refreshDetail();  // the open detail follows the alert's new version
  const body = $("#alerts tbody");
  const old = body.querySelector(`tr[data-id="${CSS.escape(event.alert.id)}"]`);
  if (!matchesFilters(event.alert)) {  // e.g. cleared while the list shows active ones: it leaves the list
    if (old) { old.remove(); state.alertTotal -= 1; countAlerts(); }
    return;
  }
  if (old) old.remove(); else state.alertTotal += 1;
  body.prepend(alertRow(event.alert, true));
  countAlerts();
}

function countAlerts() {
  $("#alerts-count").textContent = `${$("#alerts tbody").rows.length} shown of ${state.alertTotal}`;
}

async function ackAlert(id, button) {
  button.disabled = true;
  const res = await api(`/alerts/${encodeURIComponent(id)}/commands`, { method: "POST", body: { action: "ack" } });
  button.textContent = res.status === 202 ? "ack sent" : `failed (${res.status})`;
  if (res.status === 202) status(`Acknowledgement of ${id} sent; it shows once the alert worker applied it.`);
}

