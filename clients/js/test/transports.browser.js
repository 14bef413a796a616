// The transports in a real browser, headless Chromium:
// - Server-Sent Events: an EventSource on /sse through a TCP relay; the relay cuts the connection
//   for a while (the server keeps publishing), and the browser's own reconnect, with
//   Last-Event-ID, must resume every topic without a gap or a repeat. Then the JavaScript client,
//   with no WebSocket to reach, falls back to the event stream.
// - WebSocket with permessage-deflate: Chromium offers it, the server agrees, and the compressed
//   frames (snapshots and updates past compression_min_bytes) read as the same JSON.
import { launchChromium, devtools } from "./browser.js";
import { config, sleep, startRelay, startServer, until } from "./harness.js";

const srv = await startServer(config({ every: "200ms" }));
const relay = await startRelay(srv.port);
const origin = relay.url.replace("ws://", "http://").replace(/\/ws$/, "");
const browser = await launchChromium();
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
  await page.evaluate(`(() => {
    window.wsFrames = []; window.wsExtensions = null;
    const ws = new WebSocket("${origin.replace("http://", "ws://")}/ws");
    ws.onopen = () => { window.wsExtensions = ws.extensions; ws.send(JSON.stringify({ type: "subscribe", id: 1, topics: ["price.*"] })); };
    ws.onmessage = (e) => window.wsFrames.push(JSON.parse(e.data));
    return true;
  })()`);
  const frames = await until("records over a compressing WebSocket", async () => {
    const got = await page.evaluate("window.wsFrames");
    return got.filter((m) => m.type === "update").length >= 3 && got;
  }, 20000);
  const extensions = await page.evaluate("window.wsExtensions");
  if (!/permessage-deflate/.test(extensions) || !/server_no_context_takeover/.test(extensions)) throw new Error(`extensions: ${extensions}`);
  if (!frames.some((m) => m.type === "snapshot" && m.record.schema === "tributary.v1")) throw new Error("no snapshot read back");
  page.close();
  console.log(`ok: ${events.length} events, resumed after a cut with no gap or repeat; the client fell back to SSE; ` +
    `${frames.length} WebSocket messages over "${extensions}"`);
} catch (e) {
  failed = true;
  console.error("FAILED:", e.message);
} finally {
  await browser.close();
  relay.close();
  await srv.stop();
}
process.exit(failed ? 1 : 0);
