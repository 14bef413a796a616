// The dashboard page in a real browser: Debian's headless Chromium, driven over the DevTools
// protocol with Node's own WebSocket (no npm package). It loads `/` from `tributary run --replay`
// at 1280 px and at 390 px, on cassettes whose BTC price moves and whose 24 h change flips sign,
// and checks what a person would: the BTC card's chart gains points, its price changes and the
// change's colour follows its sign, BTC's minute candles are drawn as they come, no time shows as a bare number, nothing overflows sideways
// at phone width, a provider's Retry-After pause counts down, and the admin controls pause a
// feed. With --screenshot DIR it saves dashboard-1280.png and dashboard-390.png there.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { launchChromium, devtools } from "./browser.js";
import { dashboardConfig, movingCassettes } from "./dashboard_setup.js";
import { sleep, startServer, until } from "./harness.js";

const shotAt = process.argv.indexOf("--screenshot");
const shotDir = shotAt > 0 ? process.argv[shotAt + 1] : null;
const ADMIN = "dashboard-admin-token-0123456789";

const card = (topic) => `document.querySelector('article[data-topic="${topic}"]')`;
const btc = card("price.BTC-USDT");
const priceOf = async (page) => Number((await page.evaluate(`${btc}?.querySelector('.value')?.textContent ?? ""`)).replaceAll(",", "")) || null;
const pointsOf = async (page) => Number(await page.evaluate(`${btc}?.querySelector('svg.spark')?.dataset.points ?? 0`));

async function checkPrices(page) {
  const p1 = await until("BTC on the page", () => priceOf(page), 20000);
  const n1 = await until("BTC's chart from the history", async () => (await pointsOf(page)) >= 2 && pointsOf(page), 20000);
  await until("the BTC price to change", async () => (await priceOf(page)) > p1, 20000);
  await until("the chart to gain points", async () => (await pointsOf(page)) > n1, 20000);
  const signs = new Set();
  await until("the change to show both signs, coloured by sign", async () => {
    const c = await page.evaluate(`(() => { const e = ${btc}.querySelector('.change'); return { t: e.textContent, up: e.classList.contains('up'), down: e.classList.contains('down'), color: getComputedStyle(e).color }; })()`);
    if (c.t.startsWith("+") !== c.up || c.t.startsWith("−") !== c.down) throw new Error(`change ${c.t} has up=${c.up} down=${c.down}`);
    signs.add(`${c.t[0]} ${c.color}`);
    return signs.size >= 2;
  }, 20000);
  const colours = [...signs].map((s) => s.slice(2));
  if (new Set(colours).size < 2) throw new Error(`up and down share a colour: ${[...signs]}`);
  console.log("prices move, chart grows, change colours:", [...signs].join(" / "));
  const candles = `${card("candle.BTC-USDT.1m")}?.querySelector('svg.candles')`;
  const bars = async () => Number(await page.evaluate(`${candles}?.dataset.points ?? 0`));
  const b1 = await until("the candle chart", () => bars(), 20000);
  await until("a new candle on it", async () => (await bars()) > b1, 20000);
  const drawn = await page.evaluate(`[${candles}.querySelectorAll('rect.up').length, ${candles}.querySelectorAll('rect.down').length]`);
  if (!(drawn[0] >= 1 && drawn[1] >= 1)) throw new Error(`candles up/down drawn: ${drawn}`);
  console.log("candles:", await bars(), "drawn, rising and falling");
}

async function checkTimesAndLayout(page, width) {
  await until("the view card", () => page.evaluate(`!!document.querySelector('#view-dashboard dd[data-field="updated_at"]')`), 20000);
  const bare = await page.evaluate(`document.body.innerText.match(/\\b1[0-9]{12}\\b|\\b1,[0-9]{3},[0-9]{3},[0-9]{3},[0-9]{3}\\b/g)`);
  if (bare) throw new Error(`times shown as numbers: ${bare}`);
  const updated = await page.evaluate(`document.querySelector('#view-dashboard dd[data-field="updated_at"]').textContent`);
  if (!/\d{1,2}:\d{2}/.test(updated)) throw new Error(`updated_at is not a local time: ${updated}`);
  const overflow = await page.evaluate(`document.documentElement.scrollWidth - window.innerWidth`);
  if (overflow > 0) throw new Error(`${overflow} px of horizontal overflow at ${width} px`);
  console.log(`${width} px: no bare times, no horizontal overflow`);
}

// CoinGecko answered 429 with Retry-After: its card counts the pause down.
async function checkPause(page) {
  const pause = `document.querySelector('article[data-source="coingecko"] .pause')?.textContent ?? ''`;
  const secs = async () => Number(/paused (\d+) s/.exec(await page.evaluate(pause))?.[1]);
  const first = await until("coingecko's Retry-After pause", () => secs(), 20000);
  await until("the pause to count down", async () => (await secs()) < first, 5000);
  console.log(`pause counts down from ${first} s`);
}

async function checkAdmin(page) {
  await page.evaluate(`document.querySelector('#admin-token').value = '${ADMIN}'; document.querySelector('#admin button').click()`);
  const pause = `document.querySelector('article[data-feed="spot"] button[aria-label="Pause spot"]')`;
  await until("the admin controls", () => page.evaluate(`!!${pause}`), 10000);
  await page.evaluate(`${pause}.click()`);
  await until("the feed shown paused", () => page.evaluate(`document.querySelector('article[data-feed="spot"] .badge')?.textContent === 'paused'`), 10000);
  const resume = `document.querySelector('article[data-feed="spot"] button[aria-label="Resume spot"]')`;
  await until("a resume button", () => page.evaluate(`!!${resume}`), 10000);
  await page.evaluate(`${resume}.click()`);
  await until("the feed running again", () => page.evaluate(`document.querySelector('article[data-feed="spot"] .badge')?.textContent !== 'paused'`), 10000);
  console.log("admin controls pause and resume a feed");
}

// WCAG AA: every text colour of the page's palette against every background it is drawn on,
// in the dark and the light scheme, at least 4.5:1.
async function checkContrast(page) {
  const ratios = `(() => {
    const css = getComputedStyle(document.documentElement), v = (n) => css.getPropertyValue('--' + n).trim();
    const lum = (hex) => { const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
      .map((x) => (x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4)); return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; };
    const out = [];
    for (const t of ['fg', 'muted', 'ok', 'warn', 'bad', 'accent'])
      for (const b of ['bg', 'card', 'flash']) {
        const [hi, lo] = [lum(v(t)), lum(v(b))].sort((x, y) => y - x);
        out.push([t + ' on ' + b, (hi + 0.05) / (lo + 0.05)]);
      }
    return out;
  })()`;
  for (const scheme of ["dark", "light"]) {
    await page.send("Emulation.setEmulatedMedia", { features: [{ name: "prefers-color-scheme", value: scheme }] });
    const low = (await page.evaluate(ratios)).filter(([, r]) => !(r >= 4.5));
    if (low.length) throw new Error(`${scheme} scheme below WCAG AA: ${JSON.stringify(low)}`);
  }
  await page.send("Emulation.setEmulatedMedia", { features: [] });
  console.log("contrast: every text colour at least 4.5:1 in both schemes");
}

async function shoot(page, width) {
  if (!shotDir) return;
  await sleep(1200); // let the card highlight fade
  const shot = await page.send("Page.captureScreenshot", { format: "png", captureBeyondViewport: width < 600 });
  const file = join(shotDir, `dashboard-${width}.png`);
  writeFileSync(file, Buffer.from(shot.data, "base64"));
  console.log("screenshot:", file);
}

const srv = await startServer(dashboardConfig(ADMIN), movingCassettes(60));
const browser = await launchChromium();
let failed = false;
try {
  const page = await devtools(browser.wsUrl);
  await page.send("Page.enable");
  for (const width of [1280, 390]) {
    await page.send("Emulation.setDeviceMetricsOverride", { width, height: width < 600 ? 844 : 900, deviceScaleFactor: 1, mobile: width < 600 });
    await page.send("Page.navigate", { url: `http://127.0.0.1:${srv.port}/` });
    await sleep(300);
    await checkPrices(page);
    await checkTimesAndLayout(page, width);
    if (width === 1280) await checkAdmin(page); // status needs the admin token: after it
    if (width === 1280) await checkPause(page);
    if (width === 1280) await checkContrast(page);
    const pill = await page.evaluate(`document.querySelector('#conn').textContent`);
    if (pill !== "live") throw new Error(`connection pill says ${pill}`);
    await shoot(page, width);
  }
  page.close();
  console.log("ok: the page updated live at both widths");
} catch (e) {
  failed = true;
  console.error("FAILED:", e.message);
} finally {
  await browser.close();
  await srv.stop();
}
process.exit(failed ? 1 : 0);
