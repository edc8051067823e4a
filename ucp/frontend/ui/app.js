/* UCP dashboard: polls UCP's own API (same origin, same bearer auth) and draws what it says.
   No build step: plain ES2020, Cytoscape.js for the graph, Chart.js for the charts (vendored). */
"use strict";

const FAST_MS = 2500;   // overview: graph, calls, flags, services
const SLOW_MS = 10000;  // usage and router analytics
const KEY = "ucp.apiKey";
const state = { overview: null, usage: null, router: null, charts: {}, cy: null, authNeeded: false };
window.ucp = state;

function $(sel) { return document.querySelector(sel); }
function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
function text(el, value) { el.textContent = value == null ? "" : String(value); }
function cell(row, value, cls) {
  const td = document.createElement("td");
  text(td, value);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}
function fill(tbody, rows, columns) {
  tbody.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    for (const c of columns) cell(tr, typeof c === "function" ? c(r) : r[c]);
    tbody.appendChild(tr);
  }
}
function fmt(n, digits = 2) { return n == null ? "–" : Number(n).toFixed(digits); }
function pct(n) { return n == null ? "–" : (100 * n).toFixed(1) + "%"; }

async function api(path) {
  const headers = {};
  const key = sessionStorage.getItem(KEY);
  if (key) headers.authorization = "Bearer " + key;
  const resp = await fetch(path, { headers, cache: "no-store" });
  if (resp.status === 401) {
    state.authNeeded = true;
    $("#auth").hidden = false;
    throw new Error("unauthorized");
  }
  if (!resp.ok) throw new Error(path + ": " + resp.status);
  $("#auth").hidden = true;
  return resp.json();
}

// ------------------------------------------------------------------ theme
function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  for (const chart of Object.values(state.charts)) styleChart(chart);
  if (state.cy) styleGraph();
}
function toggleTheme() {
  const dark = css("--bg") < "#8"; // current colours are dark
  const next = dark ? "light" : "dark";
  localStorage.setItem("ucp.theme", next);
  applyTheme(next);
}

// ------------------------------------------------------------------ graph
function healthColour(h) { return h === "up" ? css("--up") : h === "starting" ? css("--starting") : css("--down"); }
function graphStyle() {
  return [
    { selector: "node", style: {
      "label": "data(label)", "color": css("--fg"), "font-size": 12, "text-valign": "bottom", "text-margin-y": 4,
      "background-color": (n) => healthColour(n.data("health")), "width": 28, "height": 28,
      "border-width": 2, "border-color": css("--card") } },
    { selector: "node[kind = 'ucp']", style: { "background-color": css("--accent"), "width": 44, "height": 44, "shape": "round-rectangle" } },
    { selector: "node[kind = 'service']", style: { "shape": "diamond", "border-color": css("--service"), "border-width": 3 } },
    { selector: "node[kind = 'builtin']", style: { "shape": "hexagon" } },
    { selector: "edge", style: {
      "width": (e) => 1 + Math.min(14, 2 * Math.sqrt(e.data("rate") || 0) * 2),
      "line-color": css("--line"), "curve-style": "straight", "target-arrow-shape": "triangle",
      "target-arrow-color": css("--line"), "label": (e) => (e.data("rate") ? fmt(e.data("rate"), 1) + "/min" : ""),
      "font-size": 10, "color": css("--muted") } },
  ];
}
function styleGraph() { state.cy.style(graphStyle()); }
function drawGraph(ov) {
  if (!window.cytoscape) return;
  if (!state.cy) {
    state.cy = cytoscape({ container: $("#graph"), elements: [], style: graphStyle(), wheelSensitivity: 0.3,
      minZoom: 0.3, maxZoom: 3 });
  }
  const cy = state.cy;
  const wanted = new Set();
  let added = false;
  for (const n of ov.nodes) {
    wanted.add(n.id);
    const el = cy.getElementById(n.id);
    if (el.empty()) { cy.add({ group: "nodes", data: { ...n } }); added = true; } else el.data(n);
  }
  for (const e of ov.edges) {
    const id = e.source + "->" + e.target;
    wanted.add(id);
    const el = cy.getElementById(id);
    if (el.empty()) { cy.add({ group: "edges", data: { id, ...e } }); added = true; } else el.data(e);
  }
  cy.elements().forEach((el) => { if (!wanted.has(el.id())) { el.remove(); added = true; } });
  if (added) cy.layout({ name: "concentric", concentric: (n) => (n.data("kind") === "ucp" ? 2 : 1),
    levelWidth: () => 1, minNodeSpacing: 60, animate: false }).run();
  const legend = $("#graph-legend");
  legend.replaceChildren();
  for (const n of ov.nodes) {
    if (n.kind === "ucp") continue;
    const li = document.createElement("li");
    li.dataset.node = n.label;
    li.dataset.health = n.health;
    const badge = document.createElement("span");
    badge.className = "badge " + n.health;
    text(badge, n.health);
    li.append(n.label + " ", badge, " " + n.tools + " tools" + (n.kind === "service" ? " · self-registered" : ""));
    legend.appendChild(li);
  }
}

// ------------------------------------------------------------------ charts
function styleChart(chart) {
  const o = chart.options;
  for (const axis of Object.values(o.scales || {})) {
    axis.ticks = { ...(axis.ticks || {}), color: css("--muted") };
    axis.grid = { ...(axis.grid || {}), color: css("--line") };
  }
  o.plugins.legend.labels = { color: css("--fg") };
  chart.update("none");
}
const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#65a30d", "#db2777"];
function chart(id, type, options = {}) {
  if (!window.Chart) return null;
  if (!state.charts[id]) {
    state.charts[id] = new Chart($(id), { type, data: { labels: [], datasets: [] },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { labels: {} } }, scales: options.scales || {} } });
    styleChart(state.charts[id]);
  }
  return state.charts[id];
}
function drawCalls(ov) {
  const c = chart("#calls-chart", "bar", { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } });
  const minutes = [...new Set(ov.timeline.map((r) => r.t))].sort((a, b) => a - b);
  const servers = [...new Set(ov.timeline.map((r) => r.server))].sort();
  if (c) {
    c.data.labels = minutes.map((t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    c.data.datasets = servers.map((s, i) => ({ label: s, backgroundColor: PALETTE[i % PALETTE.length],
      data: minutes.map((t) => (ov.timeline.find((r) => r.t === t && r.server === s) || { calls: 0 }).calls) }));
    c.update("none");
  }
  const total = ov.timeline.reduce((a, r) => a + r.calls, 0);
  const errors = ov.timeline.reduce((a, r) => a + r.errors, 0);
  const el = $("#calls-total");
  el.dataset.calls = String(total);
  text(el, total + " calls in the last hour" + (errors ? ", " + errors + " errors" : ""));
  fill($("#calls-table tbody"), ov.calls_by_tool, [(r) => r.server + "__" + r.tool, "calls", "errors"]);
}
function drawUsage(u) {
  const c = chart("#usage-chart", "bar", { scales: { y: { beginAtZero: true } } });
  if (c) {
    c.data.labels = u.days.map((d) => d.day.slice(5));
    c.data.datasets = [
      { label: "calls", data: u.days.map((d) => d.calls), backgroundColor: PALETTE[0] },
      { label: "errors", data: u.days.map((d) => d.errors), backgroundColor: PALETTE[4] },
    ];
    c.update("none");
  }
  fill($("#usage-servers tbody"), u.servers, ["server", "calls", (r) => pct(r.error_rate), (r) => fmt(r.p50_ms, 1), (r) => fmt(r.p95_ms, 1)]);
}
function drawRouter(r, live) {
  const box = $("#router-stats");
  box.replaceChildren();
  const items = [
    ["rankings", r.rankings], ["hit rate", pct(r.hit_rate)],
    ["hit@1", pct(r.hit_rate_at["1"])], ["hit@3", pct(r.hit_rate_at["3"])], ["hit@5", pct(r.hit_rate_at["5"])],
    ["explored slots", pct(r.exploration.share)], ["explored & called", r.exploration.explored_called],
  ];
  if (live) items.push(["searches (this run)", live.searches]);
  for (const [label, value] of items) {
    const d = document.createElement("div");
    const b = document.createElement("b");
    text(b, value);
    d.append(b, label);
    box.appendChild(d);
  }
  const c = chart("#router-chart", "line", { scales: { y: { beginAtZero: true, max: 1 } } });
  if (c) {
    c.data.labels = r.daily.map((d) => d.day.slice(5));
    c.data.datasets = [{ label: "hit rate per day", data: r.daily.map((d) => d.hit_rate), borderColor: PALETTE[1],
      backgroundColor: PALETTE[1], tension: 0.2 }];
    c.update("none");
  }
}

// ------------------------------------------------------------------ tables
function drawTables(ov) {
  fill($("#flags tbody"), ov.trust_flags, ["tool", (f) => (f.pinned || "").slice(0, 12), (f) => (f.now || "").slice(0, 12)]);
  $("#flags-empty").hidden = ov.trust_flags.length > 0;
  const services = new Set(ov.services.map((s) => s.name));
  fill($("#servers tbody"), ov.servers, ["name", (s) => (services.has(s.name) ? "service" : s.kind), "state", "tools", "restarts", (s) => s.last_error || ""]);
  const sv = ov.cloud_savings;
  text($("#savings-total"), sv.recent.length ? "≈ $" + fmt(sv.estimated_usd_month) + " / month across the last recommendations" : "No cloud-tool recommendations yet.");
  fill($("#savings tbody"), sv.recent, ["tool", (s) => new Date(s.at * 1000).toLocaleString(), (s) => fmt(s.saving) + " (" + s.unit + ")"]);
  const h = ov.health;
  text($("#version"), "v" + ov.version);
  text($("#summary"), h.servers_healthy + "/" + h.servers_total + " servers healthy · " + h.tools + " tools · " + h.sessions + " sessions" + (h.changed_definitions ? " · " + h.changed_definitions + " flagged" : ""));
}

// ------------------------------------------------------------------ search
async function search(ev) {
  ev.preventDefault();
  const q = $("#search-input").value.trim();
  if (!q) return;
  const data = await api("/api/v1/dashboard/explain?limit=10&query=" + encodeURIComponent(q));
  text($("#search-mode"), "served by " + data.mode + " retrieval");
  fill($("#search-results tbody"), data.results.map((r, i) => ({ ...r, rank: i + 1 })),
    ["rank", "name", (r) => fmt(r.score, 3), (r) => fmt(r.bm25, 3), (r) => fmt(r.dense, 3), (r) => fmt(r.prior, 3), (r) => fmt(r.fused, 3)]);
  $("#search-results").dataset.query = q;
}

// ------------------------------------------------------------------ loops
async function fast() {
  try {
    const ov = await api("/api/v1/dashboard/overview");
    state.overview = ov;
    drawGraph(ov);
    drawCalls(ov);
    drawTables(ov);
    if (state.router) drawRouter(state.router, ov.router);
    text($("#live"), "live · " + new Date().toLocaleTimeString());
  } catch (err) { text($("#live"), "offline: " + err.message); }
}
async function slow() {
  try {
    const [u, r] = await Promise.all([api("/api/v1/analytics/usage"), api("/api/v1/analytics/router/performance")]);
    state.usage = u; state.router = r;
    drawUsage(u);
    drawRouter(r, state.overview && state.overview.router);
  } catch (err) { /* shown by the fast loop */ }
}

document.addEventListener("DOMContentLoaded", () => {
  applyTheme(localStorage.getItem("ucp.theme"));
  $("#theme").addEventListener("click", toggleTheme);
  $("#key").addEventListener("click", () => { $("#auth").hidden = !$("#auth").hidden; });
  $("#key-save").addEventListener("click", () => {
    sessionStorage.setItem(KEY, $("#key-input").value);
    $("#key-input").value = "";
    fast(); slow();
  });
  $("#search-form").addEventListener("submit", search);
  fast(); slow();
  setInterval(fast, FAST_MS);
  setInterval(slow, SLOW_MS);
});
