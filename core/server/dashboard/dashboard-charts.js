// Hand-drawn SVG charts: a sparkline (one polyline) and small candlesticks. A few dozen lines
// each, no library, nothing to load from elsewhere.
const NS = "http://www.w3.org/2000/svg";
const W = 240, H = 48;

function svg(cls, label) {
  const s = document.createElementNS(NS, "svg");
  s.setAttribute("class", cls);
  s.setAttribute("viewBox", `0 0 ${W} ${H}`);
  s.setAttribute("preserveAspectRatio", "none");
  s.setAttribute("role", "img");
  s.setAttribute("aria-label", label);
  return s;
}

function scale(values) {
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi === lo) (hi += 1), (lo -= 1);
  return (v) => H - 3 - ((v - lo) / (hi - lo)) * (H - 6);
}

// A line through `points` ([x, value] pairs, x increasing), up to the last `keep`.
export class Sparkline {
  constructor(label, keep = 120) {
    this.keep = keep;
    this.points = [];
    this.el = svg("spark", label);
    this.line = document.createElementNS(NS, "polyline");
    this.el.appendChild(this.line);
  }
  // In x order whichever comes first (the history answers after the first live records); an x
  // already drawn is not drawn twice.
  add(x, v) {
    if (typeof v !== "number") return;
    let i = this.points.length;
    while (i > 0 && this.points[i - 1][0] > x) i--;
    if (i > 0 && this.points[i - 1][0] === x) return;
    this.points.splice(i, 0, [x, v]);
    if (this.points.length > this.keep) this.points.shift();
    this.draw();
  }
  clear() {
    this.points = [];
    this.draw();
  }
  draw() {
    const n = this.points.length;
    this.el.dataset.points = String(n);
    if (n < 2) return this.line.setAttribute("points", "");
    const y = scale(this.points.map((p) => p[1]));
    const x0 = this.points[0][0], span = this.points.at(-1)[0] - x0 || 1;
    this.line.setAttribute("points", this.points.map(([x, v]) => `${(((x - x0) / span) * W).toFixed(1)},${y(v).toFixed(1)}`).join(" "));
    const up = this.points.at(-1)[1] >= this.points[0][1];
    this.el.classList.toggle("down", !up);
  }
}

// Candles by open time: the last `keep` of them, each a wick and a body.
export class Candles {
  constructor(label, keep = 30) {
    this.keep = keep;
    this.byOpen = new Map();
    this.el = svg("candles", label);
  }
  clear() {
    this.byOpen.clear();
    this.draw();
  }
  add(c) {
    if (![c.open, c.high, c.low, c.close].every((v) => typeof v === "number")) return;
    this.byOpen.set(c.open_time ?? 0, c);
    const keys = [...this.byOpen.keys()].sort((a, b) => a - b);
    for (const k of keys.slice(0, Math.max(0, keys.length - this.keep))) this.byOpen.delete(k);
    this.draw();
  }
  draw() {
    const list = [...this.byOpen.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    this.el.dataset.points = String(list.length);
    const y = scale(list.flatMap((c) => [c.high, c.low]));
    const step = W / Math.max(this.keep, list.length);
    const parts = list.map((c, i) => {
      const x = i * step + step / 2, up = c.close >= c.open, cls = up ? "up" : "down";
      const top = y(Math.max(c.open, c.close)), h = Math.max(1, Math.abs(y(c.open) - y(c.close)));
      return `<line class="${cls}" x1="${x}" x2="${x}" y1="${y(c.high)}" y2="${y(c.low)}"/>` +
        `<rect class="${cls}" x="${x - step * 0.35}" width="${step * 0.7}" y="${top}" height="${h}"/>`;
    });
    this.el.innerHTML = parts.join("");
  }
}
