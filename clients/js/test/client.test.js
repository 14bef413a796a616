// The JavaScript client against the real server binary (ctest runs: node --test).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { TributaryClient, backoffDelay, topicMatches } from "../tributary.js";
import { config, hs256, SOURCE_DIR, sleep, startRelay, startServer, until } from "./harness.js";

const fast = { initialMs: 50, maxMs: 400, factor: 2, jitter: 0.5 };

// Every seq seen per topic, to check for gaps and repeats.
function recorder(client, pattern) {
  const seqs = new Map();
  client.subscribe([pattern], (r) => {
    if (!seqs.has(r.topic)) seqs.set(r.topic, []);
    seqs.get(r.topic).push(r.seq);
  });
  return seqs;
}

function assertContiguous(list, topic) {
  for (let i = 1; i < list.length; i++) assert.equal(list[i], list[i - 1] + 1, `${topic}: ${list.join(",")}`);
}

test("backoff grows, is capped and jittered; patterns match like the server's", () => {
  const o = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };
  assert.equal(backoffDelay(0, o, () => 0.5), 100);
  assert.equal(backoffDelay(3, o, () => 0.5), 800);
  assert.equal(backoffDelay(10, o, () => 0.5), 1000);
  assert.equal(backoffDelay(3, o, () => 0), 400);
  assert.equal(backoffDelay(3, o, () => 1), 1200);
  assert.ok(topicMatches("price.*", "price.BTC-USDT"));
  assert.ok(!topicMatches("price.*", "price."));
  assert.ok(!topicMatches("price.BTC", "price.BTC-USDT"));
  assert.ok(topicMatches("*", "market.global"));
});

test("the server serves this very module at /tributary.js", async () => {
  const srv = await startServer(config());
  try {
    const res = await fetch(`${srv.http}/tributary.js`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /javascript/);
    assert.equal(await res.text(), readFileSync(join(SOURCE_DIR, "clients/js/tributary.js"), "utf8"));
  } finally {
    await srv.stop();
  }
});

test("history() returns a topic's recent records oldest first, paged by since and limit", async () => {
  const srv = await startServer(config());
  const client = new TributaryClient({ url: srv.url, httpUrl: srv.http, fallback: false });
  try {
    await until("three records of BTC", async () => (await (await fetch(`${srv.http}/api/v1/latest/price.BTC-USDT`)).json()).seq >= 3);
    const h = await client.history("price.BTC-USDT");
    assert.equal(h.topic, "price.BTC-USDT");
    assert.equal(typeof h.epoch, "string");
    const seqs = h.records.map((r) => r.seq);
    assert.ok(seqs.length >= 3);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    assert.equal(seqs[0], 1);
    const two = await client.history("price.BTC-USDT", { since: 1, limit: 2 });
    assert.deepEqual(two.records.map((r) => r.seq), [2, 3]);
    assert.equal((await client.history("price.BTC-USDT", { limit: 1 })).records.length, 1);
    await assert.rejects(client.history("price.NOPE-USDT"), (e) => e.status === 404 && e.code === "not_found" && /unknown topic/.test(e.message));
    await assert.rejects(client.history("price.BTC-USDT", { limit: 0 }), (e) => e.status === 400 && e.code === "bad_request");
  } finally {
    client.close();
    await srv.stop();
  }
});

test("a dropped connection is recovered with since: no gap, no repeat", async () => {
  const srv = await startServer(config());
  const relay = await startRelay(srv.port);
  const client = new TributaryClient({ url: relay.url, httpUrl: srv.http, reconnect: fast, fallback: false, connectTimeoutMs: 500 });
  try {
    const seqs = recorder(client, "price.*");
    let opens = 0, epochChanges = 0;
    client.on("open", () => opens++);
    client.on("epoch_changed", () => epochChanges++);
    client.connect();
    await until("some updates", () => (seqs.get("price.BTC-USDT")?.length ?? 0) >= 3);
    relay.refuse(true); // the network goes away; the server keeps publishing
    const lastSeen = seqs.get("price.BTC-USDT").at(-1);
    const latest = async () => (await (await fetch(`${srv.http}/api/v1/latest/price.BTC-USDT`)).json()).seq;
    // However slow the machine, the outage holds until the server has published past it.
    await until("updates while the client is cut off", async () => (await latest()) >= lastSeen + 3);
    const publishedInOutage = (await latest()) - lastSeen;
    relay.refuse(false);
    await until("a reconnect", () => opens >= 2);
    const before = seqs.get("price.BTC-USDT").length;
    await until("updates after the reconnect", () => seqs.get("price.BTC-USDT").length >= before + 3);
    for (const [topic, list] of seqs) assertContiguous(list, topic);
    const got = seqs.get("price.BTC-USDT");
    for (let s = lastSeen + 1; s <= lastSeen + publishedInOutage; s++) assert.ok(got.includes(s), `seq ${s}, published during the outage, was replayed`);
    assert.equal(epochChanges, 0); // the same server: the same history
  } finally {
    client.close();
    relay.close();
    await srv.stop();
  }
});

test("after a server restart the client reconnects and takes the new server's numbering", async () => {
  let srv = await startServer(config());
  const port = srv.port;
  const client = new TributaryClient({ url: srv.url, reconnect: fast, fallback: false, connectTimeoutMs: 500 });
  try {
    const seen = [];
    client.subscribe("price.BTC-USDT", (r, meta) => seen.push({ seq: r.seq, type: meta.type }));
    let closes = 0;
    const changes = [];
    client.on("close", () => closes++);
    client.on("epoch_changed", (e) => changes.push(e));
    client.connect();
    await until("updates", () => seen.length >= 4);
    const firstEpoch = client.epoch;
    assert.match(firstEpoch, /^[0-9a-f]{16}$/);
    await srv.stop();
    await until("the close", () => closes >= 1);
    await sleep(300); // a few failed attempts
    srv = await startServer(config({ listen: `127.0.0.1:${port}` }));
    const mark = seen.length;
    await until("records from the new server", () => seen.length >= mark + 2, 15000);
    assert.equal(seen[mark].type, "snapshot"); // a seq from another life: the server says snapshot
    assert.ok(seen[mark].seq < seen[mark - 1].seq);
    assert.equal(client.state, "open");
    // A restarted standalone server has a new history: the client is told the epoch changed.
    assert.equal(changes.length, 1);
    assert.equal(changes[0].previous, firstEpoch);
    assert.equal(changes[0].epoch, client.epoch);
    assert.notEqual(client.epoch, firstEpoch);
    assert.ok(changes[0].topics.includes("price.BTC-USDT"));
  } finally {
    client.close();
    await srv.stop();
  }
});

test("with the socket down, the HTTP fallback polls the latest records", async () => {
  const srv = await startServer(config());
  const relay = await startRelay(srv.port);
  relay.refuse(true);
  const client = new TributaryClient({ url: relay.url, httpUrl: srv.http, reconnect: fast, fallback: { intervalMs: 200 }, connectTimeoutMs: 500 });
  try {
    const seqs = recorder(client, "price.*");
    let fallback = false;
    client.on("fallback", (f) => (fallback = f.active));
    client.connect();
    await until("polled records", () => (seqs.get("price.ETH-USDT")?.length ?? 0) >= 2);
    assert.ok(fallback);
    assert.notEqual(client.state, "open");
    relay.refuse(false);
    await until("the socket", () => client.state === "open");
    assert.equal(fallback, false);
    for (const list of seqs.values())
      for (let i = 1; i < list.length; i++) assert.ok(list[i] > list[i - 1], "never repeated or backwards");
  } finally {
    client.close();
    relay.close();
    await srv.stop();
  }
});

test("a token function is called again before expiry and the session lives on", async () => {
  const secret = "js-test-secret-0123456789abcdefghij";
  const srv = await startServer(config({ extra: `[server.auth]\nmode = "jwt"\njwt_secret = "${secret}"\npublic = ["price.*"]\n` }));
  let issued = 0;
  const token = () => {
    issued++;
    // 4 to 5 s of life, renewed 2.5 s before it ends: a loaded machine (CI runs tests two at a
    // time on two cores) still renews in time, so the session must never close.
    return hs256({ sub: "alice", exp: Math.floor(Date.now() / 1000) + 5 }, secret);
  };
  const client = new TributaryClient({ url: srv.url, token, refreshBeforeMs: 2500, reconnect: fast, fallback: false });
  try {
    const auths = [];
    let closes = 0;
    client.on("authenticated", (a) => auths.push(a));
    client.on("close", () => closes++);
    client.connect();
    await until("the first auth", () => auths.length >= 1);
    const session = client.session;
    assert.equal(client.user, "alice");
    assert.equal(auths[0].userSegment, "alice");
    await sleep(6000); // past the first token's exp
    assert.ok(auths.length >= 2, `re-authenticated ${auths.length} time(s)`);
    assert.ok(issued >= 2);
    assert.equal(closes, 0);
    assert.equal(client.session, session);
    assert.ok((await client.ping()) >= 0);
  } finally {
    client.close();
    await srv.stop();
  }
});

test("a forbidden pattern is reported as an error with its code and the rest still flows", async () => {
  const secret = "js-test-secret-0123456789abcdefghij";
  const srv = await startServer(config({ extra: `[server.auth]\nmode = "jwt"\njwt_secret = "${secret}"\npublic = ["price.*"]\n` }));
  const client = new TributaryClient({ url: srv.url, reconnect: fast, fallback: false });
  try {
    const errors = [];
    client.on("error", (e) => errors.push(e));
    const seqs = recorder(client, "price.*");
    client.subscribe("user.bob.*");
    client.connect();
    await until("the forbidden error", () => errors.find((e) => e.code === "forbidden"));
    assert.equal(errors.find((e) => e.code === "forbidden").topic, "user.bob.*");
    await until("public records", () => seqs.size >= 1);
  } finally {
    client.close();
    await srv.stop();
  }
});
