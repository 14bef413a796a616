// The dashboard page in a real browser: Debian's headless Chromium, driven over the DevTools
// protocol with Node's own WebSocket (no npm package). It loads `/` from `tributary run --replay`
// and waits for a price to change on the page, the view card and the status tables to fill.
// With --screenshot FILE it also saves what the page shows.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { CASSETTES, config, sleep, startServer, until } from "./harness.js";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const shotAt = process.argv.indexOf("--screenshot");
const screenshot = shotAt > 0 ? process.argv[shotAt + 1] : null;

// Binance answers in turn, one per poll (the last repeats): BTC moves by a dollar each second for
// 40 s, however late the browser comes.
function cassettes() {
  const dir = mkdtempSync(join(tmpdir(), "tributary-page-"));
  const ticker = JSON.parse(readFileSync(join(CASSETTES, "binance-ticker.json"), "utf8"));
  for (let i = 0; i < 40; i++) {
    ticker.response.body[0].lastPrice = `${84250 + i}.50000000`;
    writeFileSync(join(dir, `binance-${String(i).padStart(2, "0")}.json`), JSON.stringify(ticker));
  }
  copyFileSync(join(CASSETTES, "coingecko-global.json"), join(dir, "coingecko-global.json"));
  return dir;
}

const priceIn = (values) => Number(/(?:^|\s)price=([0-9.]+)/.exec(values ?? "")?.[1]);

async function launchChromium() {
  const profile = mkdtempSync(join(tmpdir(), "tributary-chromium-"));
  const args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    `--user-data-dir=${profile}`, "--remote-debugging-port=0", "--window-size=1280,900", "about:blank"];
  // Its own process group: closing kills the renderers and helpers too, not just the browser.
  const proc = spawn(CHROMIUM, args, { stdio: "ignore", detached: true });
  const exited = new Promise((r) => proc.once("exit", r));
  const portFile = join(profile, "DevToolsActivePort");
  const [port] = (await until("Chromium's DevTools port", () => existsSync(portFile) && readFileSync(portFile, "utf8").split("\n")[1] && readFileSync(portFile, "utf8").split("\n"), 30000));
  const targets = await until("a page target", async () => {
    const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    return list.find((t) => t.type === "page");
  });
  const browserUrl = (await (await fetch(`http://127.0.0.1:${port}/json/version`)).json()).webSocketDebuggerUrl;
  return {
    wsUrl: targets.webSocketDebuggerUrl,
    async close() {
      // Browser.close shuts down every helper process; killing is the fallback.
      try {
        const b = await devtools(browserUrl);
        b.send("Browser.close").catch(() => {});
      } catch { /* not answering: killed below */ }
      const timer = setTimeout(() => { try { process.kill(-proc.pid, "SIGKILL"); } catch {} }, 5000);
      await exited;
      clearTimeout(timer);
      // Helpers that outlive the group kill may still be writing the profile for a moment.
      try { rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }); }
      catch (e) { console.warn("could not remove the profile:", e.message); }
    },
  };
}

// A minimal DevTools protocol session.
async function devtools(wsUrl) {
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  let next = 1;
  const waiting = new Map();
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    msg.error ? w.reject(new Error(msg.error.message)) : w.resolve(msg.result);
  };
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    const id = next++;
    waiting.set(id, { resolve, reject });
    ws.send(JSON.stringify({ id, method, params }));
  });
  const evaluate = async (expr) => (await send("Runtime.evaluate", { expression: expr, returnByValue: true })).result.value;
  return { send, evaluate, close: () => ws.close() };
}

const cellOf = (topic, cls) => `document.querySelector('tr[data-topic="${topic}"] td.${cls}')?.textContent ?? null`;

const srv = await startServer(config({ every: "1s", extra: `
[plugins.coingecko]
[feeds.global]
kind = "market"
subjects = ["global"]
every = "1s"
sources = ["coingecko"]
[views.dashboard]
route = "/api/crypto/dashboard-summary"
fields = { btc_price_usd = "price.BTC-USDT:price", btc_change_24h = "price.BTC-USDT:change_24h_pct", market_cap = "market.global:total_market_cap", fear_greed = "sentiment.fear_greed:value" }
` }), cassettes());
const browser = await launchChromium();
let failed = false;
try {
  const page = await devtools(browser.wsUrl);
  await page.send("Page.enable");
  await page.send("Page.navigate", { url: `http://127.0.0.1:${srv.port}/` });
  const first = await until("BTC on the page", () => page.evaluate(cellOf("price.BTC-USDT", "values")), 20000);
  const p1 = priceIn(first);
  console.log("first:", p1);
  if (!(p1 >= 84250.5 && p1 <= 84289.5)) throw new Error(`unexpected first value: ${first}`);
  const p2 = await until("the BTC price to change on the page", async () => {
    const p = priceIn(await page.evaluate(cellOf("price.BTC-USDT", "values")));
    return p > p1 && p;
  }, 20000);
  console.log("changed to:", p2);
  const cardPrice = () => page.evaluate(`Number(document.querySelector('#view-dashboard dd[data-field="btc_price_usd"]')?.textContent)`);
  await until("the view card to follow the change", async () => (await cardPrice()) >= p2, 20000);
  if (await page.evaluate(`!!document.querySelector('#view-dashboard dd[data-field="fear_greed"]')`)) throw new Error("an unknown input was shown");
  const feeds = await until("the feed table", () => page.evaluate(`[...document.querySelectorAll('#feeds tbody tr')].map(r => r.textContent).join('|') || null`), 10000);
  if (!feeds.includes("spot") || !feeds.includes("binance")) throw new Error(`feed table: ${feeds}`);
  const sources = await page.evaluate(`[...document.querySelectorAll('#sources tbody tr')].map(r => r.textContent).join('|')`);
  if (!sources.includes("closed")) throw new Error(`source table: ${sources}`);
  const pill = await page.evaluate(`document.querySelector('#conn').textContent`);
  if (pill !== "live") throw new Error(`connection pill says ${pill}`);
  if (screenshot) {
    await sleep(1200); // let the row highlight fade
    const shot = await page.send("Page.captureScreenshot", { format: "png" });
    writeFileSync(screenshot, Buffer.from(shot.data, "base64"));
    console.log("screenshot:", screenshot);
  }
  page.close();
  console.log("ok: the page updated live");
} catch (e) {
  failed = true;
  console.error("FAILED:", e.message);
} finally {
  await browser.close();
  await srv.stop();
}
process.exit(failed ? 1 : 0);
