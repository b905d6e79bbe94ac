/* OmniTrack console: sign-in and sign-out, tabs, and wiring the handlers (loaded last; api.js says why). */
"use strict";

// --- sign-in ------------------------------------------------------------------------------------

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
  state.roles = who.roles || [];
  $("#identity").textContent = `${who.sub} (${state.roles.join(", ")})`;
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#signout").hidden = false;
  await Promise.all([loadMap(), loadAlerts()]);
  // one connection for both: a browser holds 6 per server, and two tabs of three streams each left none for a click
  follow("/twin/stream", { kind: "node,lane" }, onMapChange, $("#twin-live"), () => { reloadLevels(); reloadStalled(); });
  // Interactive: the map is drawn and every handler bound (bench/console.py reads this mark)
  requestAnimationFrame(() => { performance.mark("console-interactive"); document.body.dataset.ready = "1"; });
}

// --- wiring -------------------------------------------------------------------------------------

function switchTab(name) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll("main .tab")) s.hidden = s.id !== `tab-${name}`;
  if (name === "map") redrawView();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => switchTab(b.dataset.tab));
  bindMap();
  $("#login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("#token").value); });
  $("#signout").addEventListener("click", () => signOut());
  $("#alert-filters").addEventListener("submit", (e) => { e.preventDefault(); loadAlerts(); });
  $("#device-form").addEventListener("submit", (e) => { e.preventDefault(); showDevice(); });
  $("#node-find").addEventListener("submit", (e) => {  // nodes a few km apart overlap on a world map
    e.preventDefault();
    const id = e.target.elements.node.value.trim();
    if (state.nodeById.has(id)) { focusNode(id); showNode(id); } else status(`No node ${id}`, true);
  });
  $("#whatif-form").addEventListener("submit", (e) => { e.preventDefault(); askWhatIf(); });
  bindAlertDetail();
  // `omnitrack run` prints a link with a ready token in the fragment (never sent to the server, so never in a
  // log), and an OIDC provider's implicit-grant redirect (Cognito's hosted UI) brings `#id_token=...`: take it,
  // and drop it from the address bar and the history.
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromLink = fragment.get("token") || fragment.get("id_token");
  if (fromLink) {
    state.token = fromLink;
    history.replaceState(null, "", location.pathname + location.search);
  }
  if (state.token) signIn(state.token); else signOut();
});
