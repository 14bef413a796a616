// Debian's headless Chromium for the browser tests, driven over the DevTools protocol with
// Node's own WebSocket (no npm package).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { until } from "./harness.js";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

export async function launchChromium(extraArgs = []) {
  const profile = mkdtempSync(join(tmpdir(), "tributary-chromium-"));
  const args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    `--user-data-dir=${profile}`, "--remote-debugging-port=0", "--window-size=1280,900", ...extraArgs, "about:blank"];
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
    port: Number(port), // DevTools HTTP endpoint (/json/new opens a tab)
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
export async function devtools(wsUrl) {
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

