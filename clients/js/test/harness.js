// Runs the real server binary for the client tests: a temp config, the demo cassettes, a port
// from --port-file. Paths come from ctest's environment (see clients/js/CMakeLists.txt).
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const EXE = process.env.TRIBUTARY_EXE;
export const PLUGIN_DIR = process.env.TRIBUTARY_PLUGIN_DIR;
export const SOURCE_DIR = process.env.TRIBUTARY_SOURCE_DIR;
export const CASSETTES = join(SOURCE_DIR ?? ".", "config/demo-cassettes");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function until(what, cond, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export function config({ listen = "127.0.0.1:0", every = "300ms", extra = "" } = {}) {
  return `[host]
plugin_dirs = ["${PLUGIN_DIR}"]
log_level = "warn"
[server]
listen = "${listen}"
heartbeat = "2s"
${extra}
[plugins.binance]
[feeds.spot]
kind = "price"
subjects = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "ADA-USDT", "LINK-USDT", "BNB-USDT"]
every = "${every}"
jitter = "0s"
sources = ["binance"]
`;
}

// Starts `tributary run`, replaying `cassettes` (null: live upstreams); resolves once it listens.
export async function startServer(cfgText, cassettes = CASSETTES) {
  const dir = mkdtempSync(join(tmpdir(), "tributary-js-"));
  const cfg = join(dir, "t.toml"), portFile = join(dir, "port");
  writeFileSync(cfg, cfgText);
  const args = ["run", "-c", cfg, "--port-file", portFile, ...(cassettes ? ["--replay", cassettes] : [])];
  const child = spawn(EXE, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((r) => child.on("exit", r));
  const port = await until("the server's port", () => {
    if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
    return existsSync(portFile) && Number(readFileSync(portFile, "utf8").trim());
  });
  return {
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    http: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

// A TCP relay whose connections the test can cut, and which can refuse new ones: a network
// failure between client and server while the server keeps running.
export async function startRelay(targetPort) {
  const sockets = new Set();
  let refusing = false;
  const server = net.createServer((inbound) => {
    if (refusing) return inbound.destroy();
    const outbound = net.connect(targetPort, "127.0.0.1");
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => { sockets.delete(s); inbound.destroy(); outbound.destroy(); });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `ws://127.0.0.1:${server.address().port}/ws`,
    cut() { for (const s of sockets) s.destroy(); },
    refuse(on) { refusing = on; if (on) this.cut(); },
    close() { this.cut(); server.close(); },
  };
}

// An HS256 JWT signed with node:crypto.
export function hs256(claims, secret) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}
