// What the dashboard's browser test and bench/dashboard run against: cassettes whose prices and
// candles move, and a config with a market feed, a candle feed and a view besides the spot feed.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { CASSETTES, config } from "./harness.js";

// Binance answers in turn, one per poll (the last repeats): BTC moves by a dollar a poll for 60
// polls, its 24 h change alternating up and down.
// `pauseSeconds`: CoinGecko first answers 429 with that Retry-After (0: it never does).
export function movingCassettes(pauseSeconds = 0) {
  const dir = mkdtempSync(join(tmpdir(), "tributary-page-"));
  const ticker = JSON.parse(readFileSync(join(CASSETTES, "binance-ticker.json"), "utf8"));
  for (let i = 0; i < 60; i++) {
    ticker.response.body[0].lastPrice = `${84250 + i}.50000000`;
    ticker.response.body[0].priceChangePercent = i % 2 ? "-0.840" : "1.615";
    writeFileSync(join(dir, `binance-${String(i).padStart(2, "0")}.json`), JSON.stringify(ticker));
  }
  copyFileSync(join(CASSETTES, "coingecko-global.json"), join(dir, "coingecko-global.json"));
  if (pauseSeconds) {
    const limited = JSON.parse(readFileSync(join(CASSETTES, "coingecko-global.json"), "utf8"));
    limited.response = { status: 429, headers: { "Retry-After": String(pauseSeconds) }, body: { status: { error_code: 429, error_message: "rate limited" } } };
    writeFileSync(join(dir, "coingecko-0-limited.json"), JSON.stringify(limited)); // before coingecko-global.json
  }
  // One-minute BTC candles, a new one per poll, alternately rising and falling.
  for (let i = 0; i < 60; i++) {
    const open = 84000 + i * 10, close = i % 2 ? open - 25 : open + 40, t = 1773151200000 + i * 60000;
    const kline = [t, `${open}`, `${Math.max(open, close) + 15}`, `${Math.min(open, close) - 15}`, `${close}`, "5.5", t + 59999, "1", 1, "1", "1", "0"];
    writeFileSync(join(dir, `candle-${String(i).padStart(2, "0")}.json`), JSON.stringify({
      request: { method: "GET", path: "/api/v3/klines", query: { symbol: "BTCUSDT", interval: "1m", limit: "1" }, headers: {}, body: null },
      response: { status: 200, headers: { "Content-Type": "application/json" }, body: [kline] },
    }));
  }
  return dir;
}

// `admin`: the [server.auth] admin_token, or null for none (status open to all).
export function dashboardConfig(admin) {
  const auth = admin ? `[server.auth]\nadmin_token = "${admin}"\n` : "";
  return config({ every: "1s", extra: `${auth}[plugins.coingecko]
[feeds.global]
kind = "market"
subjects = ["global"]
every = "1s"
sources = ["coingecko"]
[feeds.candles]
kind = "candle"
subjects = ["BTC-USDT.1m"]
every = "1s"
sources = ["binance"]
[views.dashboard]
route = "/api/crypto/dashboard-summary"
fields = { btc_price_usd = "price.BTC-USDT:price", btc_change_24h = "price.BTC-USDT:change_24h_pct", market_cap = "market.global:total_market_cap", btc_market_cap = "price.BTC-USDT:market_cap" }
` });
}
