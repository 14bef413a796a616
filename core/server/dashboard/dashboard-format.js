// How the dashboard shows values: a kind's main value and change, prices at their quote
// currency's precision, large numbers abbreviated, times as local times and ages.

const FIAT = new Set(["USD", "USDT", "USDC", "BUSD", "FDUSD", "DAI", "EUR", "GBP", "JPY", "TRY", "BRL"]);

// The quote currency of a `BASE-QUOTE` subject ("" when it has none).
export const quoteOf = (subject) => (/^[A-Z0-9]+-([A-Z0-9]+)/.exec(subject ?? "")?.[1] ?? "");

// A price in `quote`: fiat and stablecoins to the cent (small prices to four significant
// digits), crypto quotes to eight decimals.
export function price(v, quote) {
  if (typeof v !== "number") return "–";
  if (quote && !FIAT.has(quote)) return v.toFixed(8);
  const abs = Math.abs(v);
  const digits = abs >= 1 || abs === 0 ? 2 : Math.min(8, 3 - Math.floor(Math.log10(abs)));
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

// 3.21 T, 845.6 B, 12.3 M, 4.5 K; smaller numbers as they are (two decimals at most).
export function abbrev(v) {
  if (typeof v !== "number") return "–";
  const abs = Math.abs(v);
  for (const [n, s] of [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]])
    if (abs >= n) return `${(v / n).toFixed(abs / n >= 100 ? 1 : 2)} ${s}`;
  return String(Math.round(v * 100) / 100);
}

// "+1.62 %", "−0.40 %": always a sign.
export function pct(v) {
  if (typeof v !== "number") return "";
  return `${v > 0 ? "+" : v < 0 ? "−" : "±"}${Math.abs(v).toFixed(2)} %`;
}

export function age(ms) {
  if (ms == null) return "–";
  if (ms < 1000) return "now";
  if (ms < 60000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7200000) return `${Math.round(ms / 60000)} min`;
  if (ms < 172800000) return `${Math.round(ms / 3600000)} h`;
  return `${Math.round(ms / 86400000)} d`;
}

export const ago = (ms) => (ms == null ? "–" : ms < 1000 ? "just now" : `${age(ms)} ago`);

// Milliseconds since the epoch between 2001 and 2100, or a field named like a time: a time.
export function isTime(key, v) {
  return typeof v === "number" && (/(^|_)(at|time|ts)$/.test(key) || (v > 978307200000 && v < 4102444800000 && Number.isInteger(v)));
}

export const localTime = (ms) => new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });

// A view field or record field shown to a person.
export function field(key, v) {
  if (isTime(key, v)) return localTime(v);
  if (typeof v === "number") {
    if (/pct$/.test(key)) return pct(v);
    return Math.abs(v) >= 1e6 ? abbrev(v) : String(Math.round(v * 1e8) / 1e8);
  }
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

// What a card shows for a record: { main, change (a percentage or null), chart (the number to
// plot or null), details: [[label, text]] }.
export function summary(r) {
  const d = r.data ?? {};
  const q = quoteOf(r.subject);
  switch (r.kind) {
    case "price":
      return { main: price(d.price, q), unit: q, change: d.change_24h_pct ?? null, chart: d.price,
        details: [["24 h high", price(d.high_24h, q)], ["24 h low", price(d.low_24h, q)], ["volume", abbrev(d.quote_volume_24h ?? d.volume_24h)]] };
    case "quote":
      return { main: price(d.price, "USD"), unit: "", change: d.change_pct ?? null, chart: d.price,
        details: [["open", price(d.open, "USD")], ["high", price(d.high, "USD")], ["low", price(d.low, "USD")]] };
    case "market":
      return { main: `$${abbrev(d.total_market_cap)}`, unit: "market cap", change: d.market_cap_change_24h_pct ?? null, chart: d.total_market_cap,
        details: [["24 h volume", `$${abbrev(d.total_volume_24h)}`], ["BTC dominance", d.btc_dominance_pct != null ? `${d.btc_dominance_pct.toFixed(1)} %` : "–"]] };
    case "candle": {
      const change = d.open ? ((d.close - d.open) / d.open) * 100 : null;
      return { main: price(d.close, q), unit: q, change, chart: null,
        details: [["open", price(d.open, q)], ["high", price(d.high, q)], ["low", price(d.low, q)]] };
    }
    case "indicator":
      return { main: typeof d.value === "number" ? d.value.toFixed(2) : "–", unit: "", change: null, chart: d.value,
        details: Object.entries(d).filter(([k]) => k !== "value").map(([k, v]) => [k, field(k, v)]) };
    case "sentiment":
      return { main: d.value != null ? String(d.value) : "–", unit: d.classification ?? "", change: null, chart: d.value, details: [] };
    default:
      return { main: "", unit: "", change: null, chart: null, details: Object.entries(d).slice(0, 6).map(([k, v]) => [k, field(k, v)]) };
  }
}
