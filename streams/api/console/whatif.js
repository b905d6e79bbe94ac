/* OmniTrack console: a what-if question to the decision pipeline (POST /scenarios), its top 3 strategies as a
 * table and a chart, and the operator's feedback on one of them afterwards (POST /scenarios/{id}/feedback): what
 * happened, which the Learning agent folds into the priors (shown once GET /scenarios/priors names this request). */
"use strict";

const asked = { body: null };  // the question the shown result answers: its nodes and lanes go with the feedback

async function askWhatIf() {
  const f = $("#whatif-form").elements;
  const list = (s) => s.split(",").map((v) => v.trim()).filter(Boolean);
  const body = { nodes: list(f.nodes.value), lanes: list(f.lanes.value), duration_days: Number(f.duration_days.value),
    trials: Number(f.trials.value) };
  const out = $("#whatif-result");
  asked.body = body;
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
  const strategies = result.strategies || [];
  const rows = strategies.map((s, i) => el("tr", { "data-strategy": s.name }, el("td", {}, i + 1), el("td", {}, s.name),
    el("td", {}, s.kind), el("td", {}, fmt(s.expected_loss, 0)), el("td", {}, fmt(s.cost_usd, 0)),
    el("td", {}, fmt(s.time_to_effect_days, 1))));
  const chart = svg("svg", { id: "whatif-chart", role: "img", viewBox: "0 0 640 300",
    "aria-label": "strategies: cost against expected loss" });
  const caption = el("p", { id: "whatif-caption" });
  $("#whatif-result").replaceChildren(
    el("p", { class: "result" }, `Result ${result.request_id}: ${result.status}${result.reason ? " (" + result.reason + ")" : ""}`),
    el("table", {}, el("thead", {}, el("tr", {}, ...["#", "strategy", "kind", "expected loss", "cost", "days to effect"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows)),
    chart, caption, strategies.length ? feedbackForm(result) : "",
    el("details", {}, el("summary", {}, "raw result"), el("pre", {}, JSON.stringify(result, null, 2))));
  drawTradeOffs(chart, caption, strategies, result.baseline);
}

/** What happened after the decision: the strategy chosen, whether the outage occurred, how long it lasted and
 * what it cost. Operators only (a viewer's form is disabled; the API refuses it with 403). */
function feedbackForm(result) {
  const body = asked.body || { nodes: [], lanes: [], duration_days: 1 };
  const can = canAct();
  const form = el("form", { id: "feedback-form", class: "filters" },
    el("strong", {}, "Feedback"),
    el("label", {}, "Strategy ", el("select", { name: "strategy" },
      ...result.strategies.map((s) => el("option", { value: s.name }, s.name)))),
    el("label", {}, el("input", { type: "checkbox", name: "occurred", checked: "" }), " it occurred"),
    el("label", {}, "Lasted (days) ", el("input", { name: "actual_duration_days", type: "number", min: "0.1",
      step: "0.1", value: String(body.duration_days) })),
    el("label", {}, "Loss (USD) ", el("input", { name: "actual_loss", type: "number", min: "0", step: "1000" })),
    el("button", { type: "submit" }, "Send feedback"),
    el("span", { id: "feedback-status", class: "status" }));
  for (const c of form.elements) c.disabled = !can;
  if (!can) form.title = "needs the operator role";
  form.addEventListener("submit", (e) => { e.preventDefault(); sendFeedback(result.request_id, form, body); });
  return form;
}

async function sendFeedback(requestId, form, asked) {
  const f = form.elements, says = $("#feedback-status");
  const occurred = f.occurred.checked;
  const body = { strategy: f.strategy.value, nodes: asked.nodes, lanes: asked.lanes, occurred,
    estimated_duration_days: asked.duration_days };
  if (occurred) body.actual_duration_days = Number(f.actual_duration_days.value);
  if (f.actual_loss.value !== "") body.actual_loss = Number(f.actual_loss.value);
  const res = await api(`/scenarios/${encodeURIComponent(requestId)}/feedback`, { method: "POST", body });
  says.className = res.status === 202 ? "status" : "status error";
  if (res.status !== 202) { says.textContent = `refused (${res.status}): ${res.data?.message || ""}`; return; }
  says.textContent = "sent; waiting for the learning agent…";
  for (let i = 0; i < 30; i++) {  // the decider answers with the new priors' version, naming this request
    const priors = await api("/scenarios/priors", { quiet: [404] });
    if (priors.status === 200 && priors.data.request_id === requestId) {
      says.textContent = `applied: priors version ${priors.data.version}`;
      form.dataset.priorsVersion = priors.data.version;
      return;
    }
    await sleep(1000);
  }
  says.textContent = "sent; the learning agent has not answered yet (is `omnitrack decider` running?)";
}

/** The trade-off the operator weighs: what a strategy costs (x) against the loss still expected (y), best
 * first (1, 2, 3), with doing nothing (the baseline) for reference. Lower left is better. */
function drawTradeOffs(chart, caption, strategies, baseline) {
  if (!strategies.length) { caption.textContent = "No strategy to chart."; return; }
  const W = 640, H = 300, L = 78, R = 20, T = 16, B = 40;
  const points = strategies.map((s, i) => ({ label: String(i + 1), name: s.name, cost: s.cost_usd, loss: s.expected_loss, cls: "strategy" }));
  if (baseline) points.push({ label: "0", name: baseline.name || "do nothing", cost: baseline.cost_usd || 0, loss: baseline.expected_loss, cls: "baseline" });
  const maxCost = Math.max(...points.map((p) => p.cost), 1) * 1.1, maxLoss = Math.max(...points.map((p) => p.loss), 1) * 1.1;
  const x = (v) => L + (v / maxCost) * (W - L - R), y = (v) => H - B - (v / maxLoss) * (H - T - B);
  const money = (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(0)}k` : v.toFixed(0));
  const parts = [
    svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }),
    svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }),
  ];
  const text = (t, attrs) => { const n = svg("text", attrs); n.textContent = t; return n; };
  for (const f of [0, 0.5, 1]) {
    parts.push(text(money(maxCost * f / 1.1), { x: x(maxCost * f / 1.1) - 12, y: H - B + 16 }));
    parts.push(text(money(maxLoss * f / 1.1), { x: 4, y: y(maxLoss * f / 1.1) + 4 }));
  }
  parts.push(text("cost (USD)", { x: W / 2 - 30, y: H - 6, class: "axis-title" }));
  parts.push(text("expected loss (USD)", { x: 4, y: T - 4, class: "axis-title" }));
  for (const p of points) {
    const dot = svg("circle", { class: p.cls, cx: x(p.cost), cy: y(p.loss), r: 7, "data-name": p.name });
    dot.append(svg("title"));
    dot.firstChild.textContent = `${p.name}: cost ${fmt(p.cost, 0)}, expected loss ${fmt(p.loss, 0)}`;
    const right = x(p.cost) > W * 0.6;  // labels of dots on the right go to their left
    parts.push(dot, text(`${p.label} ${p.name}`, { x: x(p.cost) + (right ? -10 : 10), y: y(p.loss) + 4,
      class: "point-label", "text-anchor": right ? "end" : "start" }));
  }
  chart.replaceChildren(...parts);
  caption.textContent = `Cost against expected loss of the top ${strategies.length} strategies (1 = best)`
    + (baseline ? "; 0 = doing nothing" : "") + ". Lower left is better.";
}

