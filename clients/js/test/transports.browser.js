// The transports in a real browser, headless Chromium:
// - Server-Sent Events: an EventSource on /sse through a TCP relay; the relay cuts the connection
//   for a while (the server keeps publishing), and the browser's own reconnect, with
//   Last-Event-ID, must resume every topic without a gap or a repeat. Then the JavaScript client,
//   with no WebSocket to reach, falls back to the event stream.
// - WebSocket with permessage-deflate: Chromium offers it, the server agrees (keeping its
//   context), and the compressed frames (snapshots and updates past compression_min_bytes) read as
//   the same JSON; three sockets on the same topics share one compression context (a deflate
//   chain), which Chromium's decompressor must follow message after message.
import { launchChromium, devtools } from "./browser.js";
import { config, sleep, startRelay, startServer, until } from "./harness.js";

// One I/O thread: the page's three WebSockets meet on it and share a deflate chain.
const srv = await startServer(config({ every: "200ms", extra: "io_threads = 1" }));
const relay = await startRelay(srv.port);
const origin = relay.url.replace("ws://", "http://").replace(/\/ws$/, "");
const browser = await launchChromium();
const chainedUpdates = async () => {
  const text = await (await fetch(`http://127.0.0.1:${srv.port}/metrics`)).text();
  return Number(/^tributary_ws_deflate_chained_total (\S+)/m.exec(text)?.[1] ?? NaN);
};
let failed = false;
try {
  const page = await devtools(browser.wsUrl);
  await page.send("Page.enable");
  await page.send("Page.navigate", { url: `${origin}/health` });
  await until("the page at the server's origin", async () => (await page.evaluate("location.href")) === `${origin}/health`);
  await page.evaluate(`(() => {
    window.events = []; window.opens = 0;
    const es = new EventSource("/sse?topics=price.BTC-USDT,price.ETH-USDT");
    es.onopen = () => window.opens++;
    for (const type of ["snapshot", "update"])
      es.addEventListener(type, (e) => {
        const m = JSON.parse(e.data);
        window.events.push({ type, frame: m.type, topic: m.topic, seq: m.record.seq, id: e.lastEventId });
      });
    return true;
  })()`);
  const count = (topic) => page.evaluate(`window.events.filter((e) => e.topic === "${topic}").length`);
  await until("a few events of each topic", async () => (await count("price.BTC-USDT")) >= 3 && (await count("price.ETH-USDT")) >= 3, 20000);
  relay.refuse(true); // the network goes away; the server goes on publishing
  await sleep(1500);
  const before = await count("price.BTC-USDT");
  relay.refuse(false);
  await until("the browser to reconnect", async () => (await page.evaluate("window.opens")) >= 2, 20000);
  await until("events after the reconnect", async () => (await count("price.BTC-USDT")) >= before + 8, 20000);
  const events = await page.evaluate("window.events");
  for (const topic of ["price.BTC-USDT", "price.ETH-USDT"]) {
    const mine = events.filter((e) => e.topic === topic);
    if (mine[0].type !== "snapshot" || mine.slice(1).some((e) => e.type !== "update"))
      throw new Error(`${topic}: one snapshot then updates, got ${mine.map((e) => e.type).join(",")}`);
    for (let i = 1; i < mine.length; i++)
      if (mine[i].seq !== mine[i - 1].seq + 1) throw new Error(`${topic}: seq ${mine[i - 1].seq} then ${mine[i].seq}`);
    if (mine.some((e) => e.type !== e.frame)) throw new Error("the event name and the frame's type differ");
  }
  const last = events.at(-1);
  if (!last.id.includes("price.BTC-USDT=") || !last.id.includes("price.ETH-USDT=")) throw new Error(`the id covers one topic: ${last.id}`);
  // The JavaScript client with no WebSocket to reach falls back to the event stream.
  await page.evaluate(`(async () => {
    const { TributaryClient } = await import("/tributary.js");
    window.fallbacks = []; window.viaSse = [];
    const c = new TributaryClient({ url: "${origin.replace("http://", "ws://")}/no-websocket-here", reconnect: { initialMs: 100, maxMs: 200 } });
    c.on("fallback", (f) => window.fallbacks.push(f));
    c.subscribe("price.BTC-USDT", (r, meta) => window.viaSse.push({ seq: r.seq, type: meta.type }));
    c.connect();
    return true;
  })()`);
  const viaSse = await until("records through the client's SSE fallback", async () => {
    const got = await page.evaluate("window.viaSse ?? []");
    return got.length >= 3 && got;
  }, 20000);
  const fallbacks = await page.evaluate("window.fallbacks");
  if (!fallbacks.some((f) => f.active && f.transport === "sse")) throw new Error(`fallbacks: ${JSON.stringify(fallbacks)}`);
  for (let i = 1; i < viaSse.length; i++)
    if (viaSse[i].seq !== viaSse[i - 1].seq + 1) throw new Error(`client via SSE: seq ${viaSse[i - 1].seq} then ${viaSse[i].seq}`);
  const chainedBefore = await chainedUpdates();
  await page.evaluate(`(() => {
    window.wsFrames = [[], [], []]; window.wsExtensions = []; window.wsErrors = [];
    for (let i = 0; i < 3; i++) {
      const ws = new WebSocket("${origin.replace("http://", "ws://")}/ws");
      ws.onopen = () => { window.wsExtensions.push(ws.extensions); ws.send(JSON.stringify({ type: "subscribe", id: 1, topics: ["price.*"] })); };
      ws.onmessage = (e) => window.wsFrames[i].push(JSON.parse(e.data));
      ws.onclose = (e) => window.wsErrors.push(\`socket \${i} closed \${e.code}\`); // a frame that did not inflate fails the connection
    }
    return true;
  })()`);
  const updates = (m) => m.filter((x) => x.type === "update").length;
  const all = await until("40 updates on each of three compressing WebSockets", async () => {
    const got = await page.evaluate("window.wsFrames");
    return got.every((m) => updates(m) >= 40) && got;
  }, 30000);
  const extensions = await page.evaluate("window.wsExtensions");
  for (const e of extensions)
    if (!/permessage-deflate/.test(e) || /server_no_context_takeover/.test(e)) throw new Error(`extensions: ${extensions}`);
  const errors = await page.evaluate("window.wsErrors");
  if (errors.length) throw new Error(errors.join("; "));
  for (const frames of all) {
    if (!frames.some((m) => m.type === "snapshot" && m.record.schema === "tributary.v1")) throw new Error("no snapshot read back");
    const last = {};
    for (const m of frames.filter((x) => x.type === "update")) {
      if (m.record.seq <= (last[m.topic] ?? 0)) throw new Error(`${m.topic}: seq ${m.record.seq} after ${last[m.topic]}`);
      last[m.topic] = m.record.seq;
    }
  }
  const chained = (await chainedUpdates()) - chainedBefore;
  if (chained < 40) throw new Error(`only ${chained} updates went out from a shared compression context`);
  const frames = all[0];
  page.close();
  console.log(`ok: ${events.length} events, resumed after a cut with no gap or repeat; the client fell back to SSE; ` +
    `${frames.length} WebSocket messages over "${extensions[0]}", ${chained} of them from a shared compression context`);
} catch (e) {
  failed = true;
  console.error("FAILED:", e.message);
} finally {
  await browser.close();
  relay.close();
  await srv.stop();
}
process.exit(failed ? 1 : 0);
