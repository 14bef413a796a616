// The live dashboard served at `/`: every topic's latest values through the WebSocket (the
// project's client, /tributary.js), and per-feed and per-source status from /api/v1/status.
// Query parameters: ?ws=/path (WebSocket path, default /ws), ?token=<JWT> (auth on).
import { TributaryClient } from "/tributary.js";

const params = new URLSearchParams(location.search);
const wsPath = params.get("ws") ?? "/ws";
const token = params.get("token") ?? undefined;
const $ = (sel) => document.querySelector(sel);
const rows = new Map(); // topic -> <tr>

function text(el, value) {
  if (el.textContent !== value) el.textContent = value;
}

function age(ms) {
  if (ms == null) return "–";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7200000) return `${Math.round(ms / 60000)} min`;
  return `${Math.round(ms / 3600000)} h`;
}

function fmt(v) {
  if (typeof v === "number") return Math.abs(v) >= 1e6 ? v.toLocaleString("en-US", { maximumFractionDigits: 0 }) : String(v);
  return typeof v === "string" ? v : JSON.stringify(v);
}

function values(data) {
  return Object.entries(data ?? {}).map(([k, v]) => `${k}=${fmt(v)}`).join("  ");
}

function topicRow(topic) {
  let tr = rows.get(topic);
  if (tr) return tr;
  tr = document.createElement("tr");
  tr.dataset.topic = topic;
  for (const cls of ["topic", "values", "seq", "source", "age", "stale"]) {
    const td = document.createElement("td");
    td.className = cls;
    tr.appendChild(td);
  }
  const body = $("#topics tbody");
  const after = [...rows.keys()].sort().find((t) => t > topic);
  body.insertBefore(tr, after ? rows.get(after) : null);
  rows.set(topic, tr);
  text($("#topic-count"), `(${rows.size})`);
  return tr;
}

function showRecord(r) {
  const tr = topicRow(r.topic);
  const cell = (c) => tr.querySelector(`td.${c}`);
  text(cell("topic"), r.topic);
  text(cell("values"), values(r.data));
  text(cell("seq"), String(r.seq));
  text(cell("source"), r.source);
  text(cell("stale"), r.stale ? "stale" : "");
  cell("stale").classList.toggle("is-stale", r.stale);
  tr.classList.remove("flash");
  void tr.offsetWidth; // restart the animation
  tr.classList.add("flash");
  if (r.kind === "view") showView(r);
}

function showView(r) {
  $("#views-section").hidden = false;
  let card = document.getElementById(`view-${r.subject}`);
  if (!card) {
    card = document.createElement("div");
    card.className = "card";
    card.id = `view-${r.subject}`;
    card.append(Object.assign(document.createElement("h3"), { textContent: r.topic }), document.createElement("dl"));
    $("#views").appendChild(card);
  }
  const dl = card.querySelector("dl");
  dl.replaceChildren();
  for (const [k, v] of Object.entries(r.data)) {
    if (k === "stale" && Array.isArray(v) && v.length === 0) continue;
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.dataset.field = k;
    dd.textContent = k === "updated_at" ? new Date(v).toISOString().slice(11, 19) : fmt(v);
    if (r.data.stale?.includes?.(k)) dd.classList.add("is-stale");
    dl.append(dt, dd);
  }
}

function refreshAges() {
  const now = Date.now();
  for (const [topic, tr] of rows) {
    const r = client.latest(topic);
    if (r) text(tr.querySelector("td.age"), age(now - r.received));
  }
}

function fillTable(sel, items, cells) {
  const body = $(`${sel} tbody`);
  const trs = items.map((it) => {
    const tr = document.createElement("tr");
    for (const [value, cls] of cells(it)) {
      const td = document.createElement("td");
      td.textContent = value;
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    return tr;
  });
  body.replaceChildren(...trs);
}

function budget(b) {
  if (!b) return "unlimited";
  return (b.windows ?? [b]).map((w) => `${Math.floor(w.available)}/${w.burst} (${w.requests}/${w.per})`).join(", ");
}

// When the first window runs out at the current rate ("in 3 h", or "–" when none will).
function runsOut(forecast) {
  const soonest = (forecast ?? []).filter((t) => t != null).sort((a, b) => a - b)[0];
  return soonest == null ? "–" : `in ${age(Math.max(0, soonest - Date.now()))}`;
}

function showStatus(s) {
  text($("#node"), `${s.node} · ${s.role}${s.epoch != null ? ` · epoch ${s.epoch}` : ""}`);
  fillTable("#feeds", s.feeds ?? [], (f) => [
    [f.id], [f.kind], [f.last_source ?? "–"], [age(f.last_record_age_ms)],
    [f.stale ? "stale" : "", f.stale ? "is-stale" : ""], [f.paused ? "paused" : ""], [f.last_error ?? ""],
  ]);
  fillTable("#sources", s.plugins ?? [], (p) => [
    [p.name], [p.circuit, p.circuit === "closed" ? "" : "open-circuit"], [budget(p.rate_budget)], [runsOut(p.budget_forecast)],
    [p.paused_for_ms ? age(p.paused_for_ms) : ""], [String(p.requests ?? 0)], [p.last_error_class ?? ""],
  ]);
}

async function pollStatus() {
  const admin = sessionStorage.getItem("tributary-admin-token");
  try {
    const res = await fetch("/api/v1/status", { headers: admin ? { Authorization: `Bearer ${admin}` } : {} });
    const note = $("#status-note");
    if (res.status === 401) {
      note.hidden = false;
      note.textContent = "Feed and source status needs the server's admin token.";
      $("#admin").hidden = false;
      return;
    }
    note.hidden = true;
    $("#admin").hidden = true;
    if (res.ok) showStatus(await res.json());
  } catch {
    /* the server is away: the connection pill says so */
  }
}

$("#admin").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem("tributary-admin-token", $("#admin-token").value);
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
  if (f.active) {
    $("#conn").dataset.state = "fallback";
    text($("#conn"), "polling");
  }
});
client.subscribe(["*"], showRecord);
client.connect();
window.tributary = client; // for the browser console (and the page test)
setInterval(refreshAges, 1000);
pollStatus();
setInterval(pollStatus, 2000);
