// What open dashboards cost the server: its CPU over the same interval with no client, then
// with N dashboards (on the browser test's moving cassettes) (real pages in Debian's headless Chromium) open on it, in one run.
//   node --experimental-websocket bench/dashboard/run.mjs [--tabs 50] [--seconds 30]
// Needs a build (build/core/tributary, build/plugins) and chromium. Prints both figures, the
// difference, and the HTTP requests the dashboards made while measured (history: only at load).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(new URL("../..", import.meta.url).pathname);
process.env.TRIBUTARY_EXE ??= join(root, "build/core/tributary");
process.env.TRIBUTARY_PLUGIN_DIR ??= join(root, "build/plugins");
process.env.TRIBUTARY_SOURCE_DIR ??= root;
const { launchChromium, devtools } = await import("../../clients/js/test/browser.js");
const { sleep, until } = await import("../../clients/js/test/harness.js");
const { dashboardConfig, movingCassettes } = await import("../../clients/js/test/dashboard_setup.js");

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const TABS = arg("--tabs", 50), SECONDS = arg("--seconds", 30);
const TICK = 100; // clock ticks per second (USER_HZ)

function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / TICK; // utime + stime
}

async function requests(http) {
  const text = await (await fetch(`${http}/metrics`)).text();
  const by = {};
  for (const m of text.matchAll(/^tributary_http_requests_total\{route="([^"]+)",code="\d+"\} (\d+)/gm)) by[m[1]] = (by[m[1]] ?? 0) + Number(m[2]);
  return by;
}

async function measure(pid, http) {
  const r0 = await requests(http), c0 = cpuSeconds(pid), t0 = Date.now();
  await sleep(SECONDS * 1000);
  const c1 = cpuSeconds(pid), r1 = await requests(http), wall = (Date.now() - t0) / 1000;
  const delta = {};
  for (const [k, v] of Object.entries(r1)) if (v - (r0[k] ?? 0)) delta[k] = v - (r0[k] ?? 0);
  return { cpuPct: ((c1 - c0) / wall) * 100, requests: delta };
}

const dir = mkdtempSync(join(tmpdir(), "tributary-bench-dash-"));
const cfg = join(dir, "t.toml"), portFile = join(dir, "port");
writeFileSync(cfg, dashboardConfig(null).replace('log_level = "warn"', 'log_level = "error"'));
const server = spawn(process.env.TRIBUTARY_EXE, ["run", "-c", cfg, "--port-file", portFile, "--replay", movingCassettes()], { stdio: "ignore" });
const port = await until("the server's port", () => existsSync(portFile) && Number(readFileSync(portFile, "utf8").trim()));
const http = `http://127.0.0.1:${port}`;
let browser;
try {
  await sleep(3000);
  const idle = await measure(server.pid, http);
  // Windows a person would be looking at: not throttled or hidden for being behind another.
  browser = await launchChromium(["--disable-backgrounding-occluded-windows", "--disable-renderer-backgrounding", "--disable-background-timer-throttling"]);
  // Each dashboard in its own window, so every one is visible and polls status as a person's would.
  const version = await (await fetch(`http://127.0.0.1:${browser.port}/json/version`)).json();
  const b = await devtools(version.webSocketDebuggerUrl);
  for (let i = 0; i < TABS; i++) await b.send("Target.createTarget", { url: `${http}/`, newWindow: true });
  const topics = (await (await fetch(`${http}/api/v1/topics`)).json()).topics.filter((t) => !t.topic.startsWith("view.")).length;
  await until(`${TABS} dashboards loaded`, async () => ((await requests(http))["/api/v1/history"] ?? 0) >= TABS * topics, 120000);
  await sleep(3000);
  const open = await measure(server.pid, http);
  b.close();
  const sessions = (await (await fetch(`${http}/metrics`)).text()).match(/^tributary_connections (\d+)/m)?.[1];
  console.log(`tributary run --replay, ${topics} topics updating every second; ${SECONDS} s each; ${sessions} WebSocket sessions open with the tabs`);
  console.log(`server CPU, no dashboard:      ${idle.cpuPct.toFixed(2)} %  requests ${JSON.stringify(idle.requests)}`);
  console.log(`server CPU, ${TABS} dashboards:      ${open.cpuPct.toFixed(2)} %  requests ${JSON.stringify(open.requests)}`);
  console.log(`difference: ${(open.cpuPct - idle.cpuPct).toFixed(2)} % of one core (${((open.cpuPct - idle.cpuPct) / TABS).toFixed(3)} % per dashboard); ratio ${(open.cpuPct / idle.cpuPct).toFixed(2)}`);
} finally {
  if (browser) await browser.close();
  server.kill("SIGTERM");
}
