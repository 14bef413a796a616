// The dashboard page in a real browser: Debian's headless Chromium, driven over the DevTools
// protocol with Node's own WebSocket (no npm package). It loads `/` from `tributary run --replay`
// and waits for a price to change on the page, the view card and the status tables to fill.
// With --screenshot FILE it also saves what the page shows.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { launchChromium, devtools } from "./browser.js";
import { CASSETTES, config, sleep, startServer, until } from "./harness.js";

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
fields = { btc_price_usd = "price.BTC-USDT:price", btc_change_24h = "price.BTC-USDT:change_24h_pct", market_cap = "market.global:total_market_cap", btc_market_cap = "price.BTC-USDT:market_cap" }
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
  if (await page.evaluate(`!!document.querySelector('#view-dashboard dd[data-field="btc_market_cap"]')`)) throw new Error("a field binance never gives was shown");
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
