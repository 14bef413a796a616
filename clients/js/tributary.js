// Tributary's JavaScript client: an ES module with no build step and no dependencies.
// Works in browsers and in Node (22+, or 20 with --experimental-websocket). The protocol it
// speaks is docs/protocol.md; the guide is docs/clients.md.
//
//   import { TributaryClient } from "/tributary.js";
//   const client = new TributaryClient({ url: "ws://127.0.0.1:8081/ws", token: () => getToken() });
//   client.subscribe(["price.*"], (record) => console.log(record.topic, record.data.price));
//   client.connect();

const DEFAULTS = {
  reconnect: { initialMs: 250, maxMs: 15000, factor: 2, jitter: 0.5 },
  fallback: { intervalMs: 5000, after: 1 },
  refreshBeforeMs: 15000,
  connectTimeoutMs: 10000,
};

// True when `topic` matches a subscription pattern: exact, "prefix.*" or "*".
export function topicMatches(pattern, topic) {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) return topic.length > pattern.length - 1 && topic.startsWith(pattern.slice(0, -1));
  return pattern === topic;
}

// Delay before reconnect attempt `attempt` (0-based): exponential, capped, with jitter, so a
// restarted server is not hit by every client at the same instant.
export function backoffDelay(attempt, opts = DEFAULTS.reconnect, random = Math.random) {
  const base = Math.min(opts.maxMs, opts.initialMs * Math.pow(opts.factor, attempt));
  const spread = base * opts.jitter;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}

function httpBaseOf(wsUrl) {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === "wss:" ? "https:" : "http:";
  u.pathname = "";
  u.search = "";
  return u.toString().replace(/\/$/, "");
}

export class TributaryClient {
  // options:
  //   url       WebSocket URL (default: /ws on the page's host)
  //   token     a JWT, or a function returning one (or a promise of one): called on every
  //             (re)connect and before the token expires
  //   reconnect { initialMs, maxMs, factor, jitter }
  //   connectTimeoutMs  an attempt not open by then is abandoned (default 10000)
  //   fallback  { intervalMs, after, views: [route, ...], sse } or false: while the socket is
  //             down (after `after` failed attempts), Server-Sent Events from /sse when the
  //             environment has EventSource (and `sse` is not false), else HTTP polling
  //   httpUrl   base URL for the HTTP API (default: derived from url)
  //   WebSocket, fetch, EventSource   implementations (default: the global ones)
  constructor(options = {}) {
    const loc = globalThis.location;
    this.url = options.url ?? (loc ? `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/ws` : "ws://127.0.0.1:8081/ws");
    this.httpUrl = options.httpUrl ?? httpBaseOf(this.url);
    this.token = options.token;
    this.reconnectOpts = { ...DEFAULTS.reconnect, ...(options.reconnect ?? {}) };
    this.fallbackOpts = options.fallback === false ? null : { ...DEFAULTS.fallback, views: [], ...(options.fallback ?? {}) };
    this.refreshBeforeMs = options.refreshBeforeMs ?? DEFAULTS.refreshBeforeMs;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
    this.WebSocketImpl = options.WebSocket ?? globalThis.WebSocket;
    this.fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
    this.EventSourceImpl = options.EventSource ?? globalThis.EventSource;
    this._sse = null; // the EventSource of the fallback, while it runs
    if (!this.WebSocketImpl) throw new Error("no WebSocket implementation: pass options.WebSocket");
    this.state = "idle"; // idle | connecting | open | closed
    this.user = null;
    this.session = null;
    this._patterns = new Map(); // pattern -> Set of handlers
    this._listeners = new Map(); // event -> Set of handlers
    this._seqs = new Map(); // topic -> last seq seen
    this._latest = new Map(); // topic -> last record
    this._views = new Map(); // route -> last object (HTTP fallback)
    this._pending = new Map(); // id -> { resolve, reject }
    this._nextId = 1;
    this._attempt = 0;
    this._ws = null;
    this._timers = { reconnect: null, refresh: null, fallback: null, connect: null };
    this._wanted = false;
  }

  // ---- public API

  connect() {
    this._wanted = true;
    if (this.state === "connecting" || this.state === "open") return;
    this._open();
  }

  close() {
    this._wanted = false;
    if (this._sse) this._sse.close();
    this._sse = null;
    for (const k of Object.keys(this._timers)) this._clear(k);
    if (this._ws) this._ws.close(1000, "client closed");
    this._ws = null;
    this._setState("closed");
  }

  // Subscribes to patterns; `handler(record, { type, topic })` gets every matching snapshot and
  // update. Returns a function that removes the handler (and unsubscribes patterns left bare).
  subscribe(patterns, handler) {
    const list = Array.isArray(patterns) ? patterns : [patterns];
    const fresh = list.filter((p) => !this._patterns.has(p));
    for (const p of list) {
      if (!this._patterns.has(p)) this._patterns.set(p, new Set());
      if (handler) this._patterns.get(p).add(handler);
    }
    if (fresh.length && this.state === "open") this._sendSubscribe(fresh).catch((e) => this._emit("error", e));
    return () => this._unsubscribe(list, handler);
  }

  // Events: "open", "close", "state", "authenticated", "error", "record", "view", "epoch_changed", and
  // "topic:<topic>" for one topic's records. Returns a function that removes the handler.
  on(event, handler) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(handler);
    return () => this._listeners.get(event)?.delete(handler);
  }

  // A topic's recent records over HTTP (GET /api/v1/history/{topic}), oldest first, from the
  // history recovery uses: { topic, epoch, records }. `since`: only records after that seq (the
  // first `limit` of them); without it, the newest `limit` (default and at most 1000). Rejects
  // with an Error whose `status` and `code` are the server's (404 not_found, 403 forbidden...).
  async history(topic, { since, limit } = {}) {
    const q = new URLSearchParams();
    if (since != null) q.set("since", String(since));
    if (limit != null) q.set("limit", String(limit));
    const query = q.toString() ? `?${q}` : "";
    const res = await this.fetchImpl(`${this.httpUrl}/api/v1/history/${encodeURIComponent(topic)}${query}`, { headers: await this._authHeaders() });
    const body = await res.json().catch(() => null);
    if (res.ok) return body;
    const err = new Error(body?.error?.message ?? `history of ${topic}: HTTP ${res.status}`);
    err.status = res.status;
    err.code = body?.error?.code ?? null;
    throw err;
  }

  lastSeq(topic) { return this._seqs.get(topic) ?? 0; }
  latest(topic) { return this._latest.get(topic); }
  topics() { return [...this._latest.keys()]; }
  view(route) { return this._views.get(route); }

  // Round trip in ms.
  async ping() {
    const t0 = Date.now();
    await this._request({ type: "ping" });
    return Date.now() - t0;
  }

  // Sends a fresh token now (also done before expiry when `token` is a function).
  async authenticate(token) {
    const t = token ?? (await this._resolveToken());
    if (!t) throw new Error("no token to authenticate with");
    return this._request({ type: "auth", token: t });
  }

  // ---- connection

  _open() {
    this._clear("reconnect");
    this._setState("connecting");
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (e) {
      this._emit("error", e);
      return this._scheduleReconnect();
    }
    this._ws = ws;
    ws.onopen = () => this._onOpen(ws);
    ws.onmessage = (ev) => this._onMessage(ws, ev.data);
    ws.onclose = (ev) => this._onClose(ws, ev);
    ws.onerror = () => {}; // a close follows
    // Some implementations (Node 20's) never report a connection reset during the handshake:
    // an attempt that has not opened in time counts as failed.
    this._timers.connect = setTimeout(() => {
      try { ws.close(); } catch {}
      this._onClose(ws, { code: 1006, reason: "connect timeout" });
    }, this.connectTimeoutMs);
  }

  async _onOpen(ws) {
    if (ws !== this._ws) return;
    this._clear("connect");
    this._attempt = 0;
    this._setState("open");
    this._stopFallback();
    try {
      if (this.token) await this.authenticate();
    } catch (e) {
      return this._emit("error", e); // unauthorized: the server closes, and we reconnect
    }
    this._emit("open", { session: this.session, user: this.user });
    if (this._patterns.size) this._sendSubscribe([...this._patterns.keys()]).catch((e) => this._emit("error", e));
  }

  _onClose(ws, ev) {
    if (ws !== this._ws) return;
    this._ws = null;
    this._clear("refresh");
    this._clear("connect");
    for (const [, p] of this._pending) p.reject(new Error(`connection closed (${ev.code})`));
    this._pending.clear();
    this._emit("close", { code: ev.code, reason: ev.reason });
    if (!this._wanted) return this._setState("closed");
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    this._setState("closed");
    const delay = backoffDelay(this._attempt++, this.reconnectOpts);
    if (this.fallbackOpts && this._attempt >= this.fallbackOpts.after) this._startFallback();
    this._timers.reconnect = setTimeout(() => this._open(), delay);
  }

  // ---- messages

  _onMessage(ws, data) {
    if (ws !== this._ws) return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return this._emit("error", new Error("server sent a frame that is not JSON"));
    }
    switch (msg.type) {
      case "hello":
        this.session = msg.session;
        this.epoch = msg.epoch;
        this._seqsEpoch ??= msg.epoch;
        break;
      case "subscribed": this._onSubscribed(msg); break;
      case "snapshot":
      case "update": this._deliver(msg.record, msg.type); break;
      case "authenticated": this._onAuthenticated(msg); break;
      case "error": this._onError(msg); break;
      default: this._settle(msg);
    }
  }

  // Topics the server answers with a snapshot despite `since` (it no longer holds the updates,
  // or the seq is from before a restart): the snapshot restarts their numbering here. When the
  // history's epoch changed (it was lost), every seq held is from the old one.
  _onSubscribed(msg) {
    const recovery = msg.recovery ?? {};
    for (const [topic, how] of Object.entries(recovery)) if (how === "snapshot") this._seqs.delete(topic);
    if (msg.epoch_changed) {
      this._emit("epoch_changed", { previous: this._seqsEpoch, epoch: msg.epoch, topics: Object.keys(recovery) });
      this._seqs.clear();
    }
    if (msg.epoch && (msg.recovery || this._seqs.size === 0)) this._seqsEpoch = msg.epoch;
    this._settle(msg);
  }

  _onAuthenticated(msg) {
    this.user = msg.user;
    this._emit("authenticated", { user: msg.user, userSegment: msg.user_segment, expiresMs: msg.expires_ms });
    this._settle(msg);
    this._clear("refresh");
    if (typeof this.token !== "function" || !msg.expires_ms) return;
    const wait = Math.max(1000, msg.expires_ms - Date.now() - this.refreshBeforeMs);
    this._timers.refresh = setTimeout(() => this.authenticate().catch((e) => this._emit("error", e)), wait);
  }

  _onError(msg) {
    const err = Object.assign(new Error(msg.message ?? msg.code), { code: msg.code, topic: msg.topic });
    this._emit("error", err);
    if (msg.id !== undefined && msg.code !== "forbidden") this._settle(msg, err);
  }

  _settle(msg, err) {
    const p = this._pending.get(msg.id);
    if (!p) return;
    this._pending.delete(msg.id);
    err ? p.reject(err) : p.resolve(msg);
  }

  _request(body) {
    if (!this._ws || this.state !== "open") return Promise.reject(new Error("not connected"));
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject });
      this._ws.send(JSON.stringify({ ...body, id }));
    });
  }

  // Subscribes with the last seq of every known topic the patterns match, so the server
  // replays what was missed instead of a snapshot when it still holds it.
  _sendSubscribe(patterns) {
    const since = {};
    for (const [topic, seq] of this._seqs)
      if (patterns.some((p) => topicMatches(p, topic))) since[topic] = seq;
    const body = { type: "subscribe", topics: patterns };
    if (Object.keys(since).length) body.since = since;
    if (body.since && this._seqsEpoch) body.epoch = this._seqsEpoch; // the epoch those seqs belong to
    return this._request(body);
  }

  _unsubscribe(list, handler) {
    const bare = [];
    for (const p of list) {
      const set = this._patterns.get(p);
      if (!set) continue;
      if (handler) set.delete(handler);
      if (!handler || set.size === 0) {
        this._patterns.delete(p);
        bare.push(p);
      }
    }
    if (bare.length && this.state === "open") this._request({ type: "unsubscribe", topics: bare }).catch(() => {});
  }

  // One record, from the socket or the HTTP fallback: never twice, never going backwards.
  _deliver(record, type) {
    if (!record || typeof record.topic !== "string") return;
    const last = this._seqs.get(record.topic) ?? 0;
    if (record.seq <= last) return;
    this._seqs.set(record.topic, record.seq);
    this._latest.set(record.topic, record);
    const meta = { type, topic: record.topic };
    for (const [p, handlers] of this._patterns)
      if (topicMatches(p, record.topic)) for (const h of handlers) this._call(h, record, meta);
    this._emit("record", record, meta);
    this._emit(`topic:${record.topic}`, record, meta);
  }

  // ---- HTTP fallback: polls latest records and view routes while the socket is down

  _startFallback() {
    if (this._timers.fallback || this._sse) return;
    if (this.EventSourceImpl && this.fallbackOpts.sse !== false && this._patterns.size) return this._startSse();
    this._startPolling();
  }

  // Server-Sent Events carry the same records; the cursor it starts from is made of the seqs
  // held, so nothing is missed between the socket and the stream.
  async _startSse() {
    const token = this.token ? await this._resolveToken() : null;
    if (this.state === "open" || this._sse) return;
    const held = [...this._seqs].map(([topic, seq]) => `${topic}=${seq}`).join(",");
    let url = `${this.httpUrl}/sse?topics=${encodeURIComponent([...this._patterns.keys()].join(","))}`;
    if (token) url += `&token=${encodeURIComponent(token)}`;
    if (held && this._seqsEpoch) url += `&last_event_id=${encodeURIComponent(`${this._seqsEpoch}~${held}`)}`;
    const es = new this.EventSourceImpl(url);
    this._sse = es;
    let opened = false;
    es.onopen = () => { opened = true; };
    for (const type of ["snapshot", "update"])
      es.addEventListener(type, (e) => {
        try { this._deliver(JSON.parse(e.data).record, type); } catch { this._emit("error", new Error("an SSE event that is not JSON")); }
      });
    es.onerror = () => {
      if (opened || this._sse !== es) return; // EventSource reconnects on its own
      es.close(); // no stream here at all: poll instead
      this._sse = null;
      this._startPolling();
    };
    this._emit("fallback", { active: true, transport: "sse" });
  }

  _startPolling() {
    if (this._timers.fallback || !this.fetchImpl) return;
    const tick = async () => {
      await this._pollOnce().catch((e) => this._emit("error", e));
      if (this._timers.fallback) this._timers.fallback = setTimeout(tick, this.fallbackOpts.intervalMs);
    };
    this._timers.fallback = setTimeout(tick, 0);
    this._emit("fallback", { active: true, transport: "polling" });
  }

  _stopFallback() {
    if (this._sse) {
      this._sse.close();
      this._sse = null;
    } else if (!this._timers.fallback) return;
    this._clear("fallback");
    this._emit("fallback", { active: false });
  }

  async _authHeaders() {
    const token = this.token ? await this._resolveToken() : null;
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  async _pollOnce() {
    const headers = await this._authHeaders();
    const get = async (path) => {
      const res = await this.fetchImpl(this.httpUrl + path, { headers });
      return res.ok ? res.json() : null;
    };
    const patterns = [...this._patterns.keys()];
    let topics = patterns.filter((p) => !p.endsWith("*"));
    if (patterns.some((p) => p.endsWith("*"))) {
      const listed = await get("/api/v1/topics");
      for (const t of listed?.topics ?? [])
        if (patterns.some((p) => topicMatches(p, t.topic)) && t.seq > this.lastSeq(t.topic)) topics.push(t.topic);
    }
    for (const topic of new Set(topics)) {
      const rec = await get(`/api/v1/latest/${encodeURIComponent(topic)}`);
      if (rec) this._deliver(rec, "update");
    }
    for (const route of this.fallbackOpts.views ?? []) {
      const obj = await get(route);
      if (obj) {
        this._views.set(route, obj);
        this._emit("view", obj, { route });
      }
    }
  }

  // ---- helpers

  async _resolveToken() {
    return typeof this.token === "function" ? await this.token() : this.token;
  }

  _setState(s) {
    if (this.state === s) return;
    this.state = s;
    this._emit("state", s);
  }

  _emit(event, ...args) {
    for (const h of this._listeners.get(event) ?? []) this._call(h, ...args);
  }

  _call(h, ...args) {
    try {
      h(...args);
    } catch (e) {
      console.error("tributary: a handler threw", e); // one bad handler must not stop the others
    }
  }

  _clear(name) {
    if (this._timers[name]) clearTimeout(this._timers[name]);
    this._timers[name] = null;
  }
}
