// The live dashboard served at `/`: a card per topic, grouped by kind, with its main value, its
// 24 h change, a chart drawn from GET /api/v1/history (one request per card) and then from live
// updates through the project's client (/tributary.js, which recovers missed updates after a
// reconnect); views as cards; feed and source health from /api/v1/status, with controls once
// an admin token is entered (status every 5 s while the tab is visible). Query parameters: ?ws=/path (default /ws), ?token=<JWT>.
import { TributaryClient } from "/tributary.js";
import { Candles, Sparkline } from "/dashboard-charts.js";
import { age, ago, field, pct, summary } from "/dashboard-format.js";

const params = new URLSearchParams(location.search);
const wsPath = params.get("ws") ?? "/ws";
const token = params.get("token") ?? undefined;
const $ = (sel, root = document) => root.querySelector(sel);
const cards = new Map(); // topic -> { el, chart }
const ADMIN_KEY = "tributary-admin-token";

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

function text(node, value) {
  if (node && node.textContent !== value) node.textContent = value;
}

// ---- topic cards

function kindSection(kind) {
  let sec = document.getElementById(`kind-${kind}`);
  if (sec) return $(".cards", sec);
  sec = el("section", { id: `kind-${kind}`, class: "kind", "aria-label": `${kind} topics` }, el("h3", { text: kind }), el("div", { class: "cards" }));
  const all = $("#topics");
  const after = [...all.children].find((s) => s.id > sec.id);
  all.insertBefore(sec, after ?? null);
  return $(".cards", sec);
}

function newCard(r) {
  const chart = r.kind === "candle" ? new Candles(`${r.topic} candles`) : new Sparkline(`${r.topic} recent values`);
  const card = el("article", { class: "card topic", "data-topic": r.topic, "data-kind": r.kind },
    el("header", {}, el("h4", { text: r.subject }), el("span", { class: "badge stale", text: "stale", hidden: "" })),
    el("div", { class: "main" }, el("span", { class: "value" }), el("span", { class: "unit muted" }), el("span", { class: "change" })),
    chart.el,
    el("dl", { class: "details" }),
    el("footer", { class: "muted" }, el("span", { class: "source" }), " · ", el("span", { class: "age" })));
  const list = kindSection(r.kind);
  const after = [...list.children].find((c) => c.dataset.topic > r.topic);
  list.insertBefore(card, after ?? null);
  // A kind with few cards shares a row with the next kind: its width follows its cards (up to 4).
  const n = Math.min(list.children.length, 4);
  list.parentElement.style.flex = `${n} 1 ${n * 272}px`;
  const entry = { el: card, chart };
  cards.set(r.topic, entry);
  loadHistory(r.topic, entry);
  text($("#topic-count"), `(${cards.size})`);
  return entry;
}

function plot(entry, r) {
  if (entry.chart instanceof Candles) entry.chart.add(r.data ?? {});
  else entry.chart.add(r.seq, summary(r).chart);
}

// The one history request of a card: what recovery keeps, drawn before the live updates.
async function loadHistory(topic, entry) {
  try {
    const h = await client.history(topic, { limit: 120 });
    for (const r of h.records) plot(entry, r);
  } catch {
    /* no history (a 403 or a server away): the chart starts with the live updates */
  }
}

function showRecord(r) {
  if (r.kind === "view") return showView(r);
  const entry = cards.get(r.topic) ?? newCard(r);
  const card = entry.el, s = summary(r);
  text($(".value", card), s.main);
  text($(".unit", card), s.unit);
  const change = $(".change", card);
  text(change, s.change == null ? "" : pct(s.change));
  change.classList.toggle("up", s.change > 0);
  change.classList.toggle("down", s.change < 0);
  $(".badge.stale", card).hidden = !r.stale;
  text($(".source", card), r.source);
  const dl = $(".details", card);
  dl.replaceChildren(...s.details.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  plot(entry, r);
  card.classList.remove("flash");
  void card.offsetWidth; // restart the animation
  card.classList.add("flash");
  refreshAge(r.topic, Date.now());
}

function showView(r) {
  $("#views-section").hidden = false;
  let card = document.getElementById(`view-${r.subject}`);
  if (!card) {
    card = el("article", { class: "card view", id: `view-${r.subject}` }, el("h4", { text: r.subject }), el("dl"));
    $("#views").appendChild(card);
  }
  const stale = Array.isArray(r.data?.stale) ? r.data.stale : [];
  const rows = Object.entries(r.data ?? {}).filter(([k]) => k !== "stale").flatMap(([k, v]) => {
    const dd = el("dd", { "data-field": k, text: field(k, v) });
    if (stale.includes(k)) dd.classList.add("is-stale");
    return [el("dt", { text: k.replaceAll("_", " ") }), dd];
  });
  $("dl", card).replaceChildren(...rows);
}

function refreshAge(topic, now) {
  const r = client.latest(topic), card = cards.get(topic)?.el;
  if (r && card) text($(".age", card), ago(now - r.received));
}

// ---- feed and source health

const adminToken = () => sessionStorage.getItem(ADMIN_KEY);

async function control(path) {
  const res = await fetch(path, { method: "POST", headers: { Authorization: `Bearer ${adminToken()}` } });
  text($("#admin-note"), res.ok ? "" : `${path}: HTTP ${res.status}`);
  pollStatus();
}

function button(label, path, name) {
  const b = el("button", { type: "button", text: label, "aria-label": `${label} ${name}` });
  b.addEventListener("click", () => control(path));
  return b;
}

function badge(textValue, tone) {
  return el("span", { class: `badge ${tone}`, text: textValue });
}

function lastError(cls, message) {
  if (!message) return el("span");
  return el("details", { class: "error" }, el("summary", { text: cls ?? "error" }), el("p", { text: message }));
}

function feedCard(f) {
  const state = f.paused ? ["paused", "warn"] : f.stale ? ["stale", "warn"] : f.last_error ? ["failing", "bad"] : ["ok", "ok"];
  const at = `/api/v1/feeds/${encodeURIComponent(f.id)}`;
  const controls = adminToken()
    ? el("div", { class: "controls" }, f.paused ? button("Resume", `${at}/resume`, f.id) : button("Pause", `${at}/pause`, f.id),
      button("Run now", `${at}/run`, f.id))
    : el("span");
  return el("article", { class: "card health", "data-feed": f.id },
    el("header", {}, el("h4", { text: f.id }), badge(state[0], state[1])),
    el("p", { class: "muted", text: `${f.kind} · ${f.mode}${f.every ? ` every ${f.every}` : ""} · from ${f.last_source ?? "–"} · ${ago(f.last_record_age_ms)}` }),
    f.demand ? el("p", { class: "muted", text: `demand: ${f.demand.demanded.length} wanted, ${f.demand.idle.length} idle` }) : el("span"),
    lastError(null, f.last_error), controls);
}

function gauge(w) {
  const label = `${Math.floor(w.available)} of ${w.burst} left (${w.requests} per ${w.per})`;
  return el("div", { class: "gauge" },
    el("meter", { min: "0", max: String(w.burst), low: String(w.burst * 0.2), high: String(w.burst * 0.5), optimum: String(w.burst), value: String(w.available), "aria-label": label }),
    el("span", { class: "muted", text: label }));
}

function sourceCard(p) {
  const tone = p.circuit === "closed" ? "ok" : p.circuit === "open" ? "bad" : "warn";
  const windows = p.rate_budget?.windows ?? (p.rate_budget?.burst ? [p.rate_budget] : []);
  const soonest = (p.budget_forecast ?? []).filter((t) => t != null).sort((a, b) => a - b)[0];
  const paused = p.paused_for_ms > 0 ? el("p", { class: "pause", "data-until": String(Date.now() + p.paused_for_ms), text: `paused ${age(p.paused_for_ms)}` }) : el("span");
  return el("article", { class: "card health", "data-source": p.name },
    el("header", {}, el("h4", { text: p.name }), badge(`circuit ${p.circuit.replace("_", "-")}`, tone)),
    ...windows.map(gauge),
    el("p", { class: "muted", text: `${p.requests ?? 0} requests · ${soonest == null ? "budget lasts" : `runs out in ${age(Math.max(0, soonest - Date.now()))}`}` }),
    paused, lastError(p.last_error_class, p.last_error),
    adminToken() ? el("div", { class: "controls" }, button("Reset", `/api/v1/sources/${encodeURIComponent(p.name)}/reset`, p.name)) : el("span"));
}

function showStatus(s) {
  text($("#node"), `${s.node} · ${s.role}${s.epoch != null ? ` · epoch ${s.epoch}` : ""}`);
  $("#feeds").replaceChildren(...(s.feeds ?? []).map(feedCard));
  $("#sources").replaceChildren(...(s.plugins ?? []).map(sourceCard));
}

async function pollStatus() {
  const admin = adminToken();
  try {
    const res = await fetch("/api/v1/status", { headers: admin ? { Authorization: `Bearer ${admin}` } : {} });
    const note = $("#status-note");
    note.hidden = res.status !== 401;
    text(note, "Feed and source status needs the server's admin token.");
    if (res.ok) showStatus(await res.json());
  } catch {
    /* the server is away: the connection pill says so */
  }
}

function tick() {
  const now = Date.now();
  for (const topic of cards.keys()) refreshAge(topic, now);
  for (const p of document.querySelectorAll(".pause[data-until]")) {
    const left = Number(p.dataset.until) - now;
    text(p, left > 0 ? `paused ${age(left)}` : "pause over");
  }
}

$("#admin").addEventListener("submit", (e) => {
  e.preventDefault();
  const v = $("#admin-token").value.trim();
  if (v) sessionStorage.setItem(ADMIN_KEY, v);
  else sessionStorage.removeItem(ADMIN_KEY);
  pollStatus();
});

const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${wsPath}`;
const client = new TributaryClient({ url, token });
client.on("state", (s) => {
  const pill = $("#conn");
  pill.dataset.state = s;
  text(pill, s === "open" ? "live" : s);
});
client.on("fallback", (f) => {
  if (!f.active) return;
  $("#conn").dataset.state = "fallback";
  text($("#conn"), "polling");
});
client.on("epoch_changed", () => {  // another history: seqs start again, so charts do too
  for (const [topic, entry] of cards) {
    entry.chart.clear();
    loadHistory(topic, entry);
  }
});
client.subscribe(["*"], showRecord);
client.connect();
window.tributary = client; // for the browser console (and the page test)
setInterval(tick, 1000);
// Status is the page's only polling: every 5 s, and only while the tab is visible.
pollStatus();
setInterval(() => document.visibilityState === "visible" && pollStatus(), 5000);
document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && pollStatus());
