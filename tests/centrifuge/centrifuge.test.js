// Centrifugo's own JavaScript SDK (the npm `centrifuge` package, v5, over `ws`) against the
// real server binary at /connection/websocket: connect with a JWT, a public and a personal
// channel, recovery after the socket is cut while records keep coming, and refusals (another
// user's channel, a bad token). Records come from a real redis-server through the redis_pubsub
// plugin: public tickers and personal orders.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";

import { Centrifuge } from "centrifuge";
import WebSocket from "ws";

import { PLUGIN_DIR, startServer, startRelay, hs256, until, sleep } from "../../clients/js/test/harness.js";

const SECRET = "centrifuge-interop-secret-0123456789abcdef";
const token = (sub, ttl = 600) => hs256({ sub, exp: Math.floor(Date.now() / 1000) + ttl }, SECRET);

let redis, redisPort, server;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// PUBLISH over a raw RESP connection.
function publish(channel, message) {
  return new Promise((resolve, reject) => {
    const s = net.connect(redisPort, "127.0.0.1");
    const arg = (x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`;
    s.on("error", reject);
    s.once("data", (d) => { s.end(); resolve(d.toString()); });
    s.write(`*3\r\n${arg("PUBLISH")}${arg(channel)}${arg(message)}`);
  });
}

const order = (user, n) => publish("orders", JSON.stringify({ user_id: user, orderId: n, status: "filled" }));
const tick = (n) => publish("tickers", JSON.stringify({ pair: "BTC-USDT", price: 84000 + n }));

before(async () => {
  redisPort = await freePort();
  redis = spawn("redis-server", ["--port", String(redisPort), "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  await until("redis-server", () => new Promise((r) => {
    const s = net.connect(redisPort, "127.0.0.1", () => { s.end(); r(true); });
    s.on("error", () => r(false));
  }));
  server = await startServer(`[host]
plugin_dirs = ["${PLUGIN_DIR}"]
log_level = "warn"
[server]
listen = "127.0.0.1:0"
heartbeat = "2s"
protocols = ["tributary", "centrifugo"]
[server.auth]
mode = "jwt"
jwt_secret = "${SECRET}"
public = ["event.ticker.*"]
[plugins.tickers]
plugin = "redis_pubsub"
redis_url = "redis://127.0.0.1:${redisPort}"
channel = "tickers"
subject_field = "pair"
subject_prefix = "ticker."
[feeds.tickers]
kind = "event"
subjects = ["*"]
sources = ["tickers"]
mode = "stream"
[plugins.orders]
plugin = "redis_pubsub"
redis_url = "redis://127.0.0.1:${redisPort}"
channel = "orders"
subject = "user.{user_id}.orders"
[feeds.orders]
kind = "event"
subjects = ["*"]
sources = ["orders"]
mode = "stream"
`, null);
});

after(async () => {
  await server?.stop();
  redis?.kill();
});

function client(url, opts = {}) {
  return new Centrifuge(url ?? `ws://127.0.0.1:${server.port}/connection/websocket`, {
    websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 300, ...opts,
  });
}

// Resolves with the next `event` the emitter sends that passes `cond`.
const next = (emitter, event, cond = () => true, ms = 10000) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
  const on = (ctx) => { if (cond(ctx)) { clearTimeout(timer); emitter.off(event, on); resolve(ctx); } };
  emitter.on(event, on);
});

// Publishes until the subscription has a publication: the feed is up and the client on it.
async function flowing(sub, send) {
  let n = 0;
  await until("publications", async () => {
    await send(1000 + n++);
    return sub.__got.length > 0;
  }, 15000);
}

function collect(sub) {
  sub.__got = [];
  sub.on("publication", (ctx) => sub.__got.push(ctx));
  return sub;
}

test("connects with a token and gets a public and a personal channel's publications", async (t) => {
  const c = client(undefined, { token: token("alice") });
  t.after(() => c.disconnect());  // a failed assertion must not leave a client reconnecting
  const connected = next(c, "connected");
  c.connect();
  const ctx = await connected;
  assert.ok(ctx.client, "a client id");
  const prices = collect(c.newSubscription("event.ticker.BTC-USDT"));
  const mine = collect(c.newSubscription("event.user.alice.orders"));
  const subscribed = Promise.all([next(prices, "subscribed"), next(mine, "subscribed")]);
  prices.subscribe();
  mine.subscribe();
  const [p, m] = await subscribed;
  assert.equal(p.recoverable, true);
  assert.equal(m.recoverable, true);
  assert.ok(p.streamPosition.epoch, "an epoch");
  await flowing(prices, tick);
  await tick(1);
  // flowing() may have published once more before it saw the first: wait for this one.
  await until("the ticker published last", () => prices.__got.at(-1)?.data.data.price === 84001);
  const rec = prices.__got[0].data;
  assert.equal(rec.schema, "tributary.v1");
  assert.equal(rec.topic, "event.ticker.BTC-USDT");
  assert.equal(prices.__got[0].offset, rec.seq);
  assert.equal(prices.__got[1].offset, prices.__got[0].offset + 1);
  assert.equal(prices.__got.at(-1).data.data.price, 84001);
  // A second client on the public channel gets its latest record with the subscribe reply.
  const late = client();
  t.after(() => late.disconnect());
  late.connect();
  const latest = collect(late.newSubscription("event.ticker.BTC-USDT"));
  latest.subscribe();
  await until("the latest ticker", () => latest.__got.length > 0);
  assert.equal(latest.__got[0].data.data.price, 84001);
  late.disconnect();
  await flowing(mine, (n) => order("alice", n));
  await order("alice", 7);
  // flowing() may have published once more before it saw the first: wait for this one.
  await until("alice's order", () => mine.__got.at(-1)?.data.data.orderId === 7);
  const last = mine.__got.at(-1);
  assert.equal(last.data.topic, "event.user.alice.orders");
  assert.equal(last.data.data.orderId, 7);
  assert.equal(last.offset, last.data.seq);
  c.disconnect();
});

test("recovers what was published while the socket was cut, with contiguous offsets", async () => {
  const relay = await startRelay(server.port);
  const c = client(relay.url.replace(/\/ws$/, "/connection/websocket"), { token: token("carol") });
  c.connect();
  const mine = collect(c.newSubscription("event.user.carol.orders"));
  const first = next(mine, "subscribed");
  mine.subscribe();
  await first;
  await flowing(mine, (n) => order("carol", n));
  for (let i = 0; i < 3; i++) await order("carol", i);
  await until("three orders", () => mine.__got.some((p) => p.data.data.orderId === 2));
  const seen = mine.__got.length;
  relay.refuse(true);  // the socket is cut and reconnecting fails for now
  await next(c, "connecting");
  for (let i = 3; i < 10; i++) await order("carol", i);
  await sleep(300);  // the server keeps publishing: the records are in its history
  const again = next(mine, "subscribed");
  relay.refuse(false);
  const ctx = await again;
  assert.equal(ctx.wasRecovering, true);
  assert.equal(ctx.recovered, true);
  await until("the missed orders", () => mine.__got.some((p) => p.data.data.orderId === 9));
  const offsets = mine.__got.map((p) => p.offset);
  for (let i = 1; i < offsets.length; i++) assert.equal(offsets[i], offsets[i - 1] + 1, `offsets ${offsets.join(",")}`);
  const ids = mine.__got.slice(seen).map((p) => p.data.data.orderId);
  assert.deepEqual(ids, [3, 4, 5, 6, 7, 8, 9]);
  c.disconnect();
  relay.close();
});

test("another user's channel is refused with permission denied", async () => {
  const c = client(undefined, { token: token("mallory") });
  c.connect();
  const theirs = c.newSubscription("event.user.alice.orders");
  const refused = next(theirs, "unsubscribed");
  theirs.subscribe();
  const u = await refused;
  assert.equal(u.code, 103);
  assert.equal(u.reason, "permission denied");
  // Anonymous: the same, and public channels still work.
  const anon = client();
  anon.connect();
  const denied = next(anon.newSubscription("event.user.alice.orders"), "unsubscribed");
  anon.getSubscription("event.user.alice.orders").subscribe();
  assert.equal((await denied).code, 103);
  anon.disconnect();
  c.disconnect();
});

test("a bad token ends the connection with 3500 invalid token, and no reconnect", async () => {
  const forged = hs256({ sub: "alice", exp: Math.floor(Date.now() / 1000) + 600 }, "not-the-secret-0123456789abcdefghijkl");
  const c = client(undefined, { token: forged });
  const gone = next(c, "disconnected");
  c.connect();
  const ctx = await gone;
  assert.equal(ctx.code, 3500);
  assert.equal(ctx.reason, "invalid token");
  assert.equal(c.state, "disconnected");
});

test("an expired token is refreshed through getToken (109 token expired)", async () => {
  let asked = 0;
  const c = client(undefined, { token: token("dave", -5), getToken: async () => { asked++; return token("dave"); } });
  const connected = next(c, "connected");
  c.connect();
  await connected;
  assert.equal(asked, 1);
  c.disconnect();
});
