#!/usr/bin/env python3
"""bench/fanout: Tributary's WebSocket fan-out against a Go peer (gorilla/websocket, topic
index, one shared frame per record, writev) and a Node.js `ws` peer, in one run.

Every server reads the same Redis stream (Tributary as a cluster follower, the peers with
XREAD), fed by bench_fanout_feeder at stepped rates. Each server runs alone, pinned to CPU 0;
Redis, the feeder and the epoll load client run on CPU 1. Prints each scenario side by side
with the ratios, as JSON lines and a Markdown table; server CPU per delivery is the server's
CPU time over the deliveries the clients counted.

The dialect scenario (Tributary alone) drives 1,000 clients on `price.*` to saturation over
/ws and then over the trading dialect (config/migrations/trading_ws.toml's prices channel).

The compression scenario runs 1,000 clients on `price.*` and the dashboard view twice per
peer, once plain and once offering permessage-deflate (the Go peer then compresses per
connection with gorilla's EnableCompression), and compares bytes on the wire and server CPU.

Usage: bench/fanout/run.py [--build build] [--peers tributary,go,node]
                           [--only broadcast1000,broadcast9000,personal,scale,memory,compression,dialect]
Needs: redis-server; golang-go with Debian's gorilla/websocket and redigo (built offline here);
node with bench/fanout/node_modules (cd bench/fanout && npm install) for the node peer.
BENCH_SERVER_LOG=PATH keeps Tributary's stderr there (else it goes with the temporary directory).
"""
import argparse, json, os, resource, socket, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEQ = [0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def spawn(cmd, cpu, **kw):
    return subprocess.Popen(["taskset", "-c", str(cpu)] + cmd, preexec_fn=raise_nofile, **kw)


def wait_port(port, limit=20):
    end = time.time() + limit
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


SERVER = [0]


def rounds(peers, repeat):
    """`repeat` rounds of the peers, each round starting one peer further on, so each peer runs
    in each place of the order equally often (with repeat a multiple of their number). The order
    mattered: a run paid for the 9,000 closed connections of the run before it (some 26,000
    TIME_WAIT sockets in the kernel's tables, until the load client reset its connections), and
    the first of a fixed order always came after the Go peer's run (measured: the build in first
    place ran dearer in 13 rounds of 14, by a median of 8 %). Rotation also spreads whatever
    else a run leaves behind."""
    peers = list(peers)
    for k in range(repeat):
        j = k % len(peers)
        yield peers[j:] + peers[:j]


def cpu_s(pid):
    """User + system CPU seconds of a process, with all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Load:
    """The epoll load client, read line by line."""

    def __init__(self, build, port, conns, mode, seconds, pattern="price.*", latency_field="received", deflate=False):
        self.p = spawn([f"{build}/bench/bench_fanout_client", str(port), str(conns), mode, str(seconds), pattern, latency_field]
                       + (["deflate"] if deflate else []), 1, stdout=subprocess.PIPE, text=True)
        # A peer slow to answer 9,000 subscribes lets the client print a progress line first.
        first = {}
        for _ in range(120):
            first = json.loads(self.p.stdout.readline() or "{}")
            if first.get("ready") or not first:
                break
        if not first.get("ready"):
            raise RuntimeError(f"load client not ready: {first}")
        self.open = first["open"]

    def lines(self, seconds):
        out = []
        end = time.time() + seconds
        while time.time() < end:
            line = self.p.stdout.readline()
            if not line:
                break
            out.append(json.loads(line))
        return out

    def take(self, n):
        """Exactly the next `n` lines (one a second): a window that starts and ends as lines
        arrive, so the server CPU read around it covers the seconds its deliveries were counted in."""
        out = []
        for _ in range(n):
            line = self.p.stdout.readline()
            if not line:
                break
            out.append(json.loads(line))
        return out

    def stop(self):
        self.p.kill()
        self.p.wait()


def feed(build, redis_port, rate, seconds, topics, prefix):
    SEQ[0] += 10_000_000
    return spawn([f"{build}/bench/bench_fanout_feeder", "127.0.0.1", str(redis_port), "bench", str(rate), str(seconds),
                  str(topics), prefix, str(SEQ[0])], 1, stdout=subprocess.DEVNULL)


def step(build, redis_port, load, rate, topics, prefix, seconds=4, per_record=None):
    f = feed(build, redis_port, rate, seconds, topics, prefix)
    c0, l0, t0 = cpu_s(SERVER[0]), cpu_s(load.p.pid), time.time()
    got = load.lines(seconds + 1)
    c1, l1, t1 = cpu_s(SERVER[0]), cpu_s(load.p.pid), time.time()
    f.wait()
    steady = got[1:seconds] or got  # skip the first second (ramp)
    best = sorted(steady, key=lambda x: x["deliveries"])
    mid = best[len(best) // 2]
    p99 = max((x["p99_ms"] for x in steady), default=-1)
    delivered = sum(x["deliveries"] for x in got)
    offered = rate * (per_record or topics_per_record(prefix, load)) * seconds
    wire = sum(x.get("wire_bytes", 0) for x in got)
    return {"rate": rate, "deliveries_s": mid["deliveries"], "p50_ms": mid["p50_ms"], "p99_ms": p99, "open": mid["open"],
            "server_cpu": round((c1 - c0) / (t1 - t0), 2), "client_cpu": round((l1 - l0) / (t1 - t0), 2),
            "cpu_us_per_delivery": round((c1 - c0) * 1e6 / max(1, delivered), 2),
            "delivered_share": round(delivered / max(1, offered), 4),
            "wire_bytes_per_delivery": round(wire / max(1, delivered), 1),
            "payload_bytes_per_delivery": round(sum(x.get("payload_bytes", 0) for x in got) / max(1, delivered), 1),
            "compressed_share": round(sum(x.get("compressed", 0) for x in got) / max(1, delivered), 3),
            "not_inflated": sum(x.get("bad", 0) for x in got)}


def topics_per_record(prefix, load):
    """Deliveries one record makes: every client on a broadcast, one on a personal topic."""
    return load.open if prefix == "B" else 1


def broadcast(build, port, redis_port, conns, rates):
    load = Load(build, port, conns, "broadcast", 600)
    steps = [step(build, redis_port, load, r, 7, "B") for r in rates]
    peak = max(steps, key=lambda s: s["deliveries_s"])
    over_rate = 3 * peak["deliveries_s"] / conns
    over = step(build, redis_port, load, over_rate, 7, "B", 5)
    load.stop()
    return {"steps": steps, "peak_deliveries_s": peak["deliveries_s"], "over_3x": over,
            "over_ratio_of_peak": round(over["deliveries_s"] / max(1, peak["deliveries_s"]), 3)}


def personal(build, port, redis_port, conns, rates):
    load = Load(build, port, conns, "personal", 600)
    steps = [step(build, redis_port, load, r, conns, "P") for r in rates]
    load.stop()
    return {"steps": steps}


# The dashboard view of the compression scenario: three of the feeder's seven topics.
VIEW_FIELDS = [("b0_price", "price.B0-USDT", "price"), ("b1_price", "price.B1-USDT", "price"),
               ("b2_price", "price.B2-USDT", "price"), ("b0_change", "price.B0-USDT", "change_24h_pct"),
               ("b1_volume", "price.B1-USDT", "volume_24h")]
COMPRESSION_RATES = [50, 100, 200]


def compression(build, port, redis_port, deflate):
    """1,000 clients on price.* and view.dashboard: each record goes to every client, and 3 of 7
    also change the view."""
    load = Load(build, port, 1000, "broadcast", 600, "price.*,view.dashboard", deflate=deflate)
    steps = [step(build, redis_port, load, r, 7, "B", per_record=load.open * 10 / 7) for r in COMPRESSION_RATES]
    load.stop()
    return {"steps": steps}


def dialect(build, port, redis_port):
    """1,000 clients on price.* over /ws, then over the trading dialect's prices channel, each
    driven to saturation; the dialect's peak over /ws's."""
    out = {}
    for name, mode, arg, field in (("ws", "broadcast", "price.*", "received"), ("dialect", "dialect", "/ws/trading", "timestamp")):
        load = Load(build, port, 1000, mode, 600, arg, field)
        steps = [step(build, redis_port, load, r, 7, "B") for r in [400, 1600, 3200, 6400]]
        load.stop()
        out[name] = {"steps": steps, "peak_deliveries_s": max(s["deliveries_s"] for s in steps)}
    out["dialect_over_ws"] = round(out["dialect"]["peak_deliveries_s"] / max(1, out["ws"]["peak_deliveries_s"]), 3)
    return out


def memory(pid, build, port, conns):
    time.sleep(1)
    before = rss_kb(pid)
    load = Load(build, port, conns, "idle", 600)
    time.sleep(3)
    after = rss_kb(pid)
    load.stop()
    return {"conns": load.open, "rss_before_kb": before, "rss_after_kb": after,
            "bytes_per_conn": round((after - before) * 1024 / max(1, load.open))}


def tributary_view():
    """The compression scenario's dashboard view, and a feed that makes its topics, as `check`
    requires (the feeder writes them; this feed's one fetch a day fails offline)."""
    fields = ", ".join(f'{o} = "{t}:{f}"' for o, t, f in VIEW_FIELDS)
    return f"""[plugins.binance]
[feeds.view_inputs]
kind = "price"
subjects = ["B0-USDT", "B1-USDT", "B2-USDT"]
every = "24h"
sources = ["binance"]
[views.dashboard]
fields = {{ {fields} }}
"""


def tributary_server(build, port, redis_port, tmp, deflate=False, view=False):
    cfg = os.path.join(tmp, "bench.toml")
    with open(cfg, "w") as f:
        f.write(f"""[host]
plugin_dirs = ["{build}/plugins"]
log_level = "warn"
[server]
listen = "127.0.0.1:{port}"
max_connections = 20000
[server.limits]
connections_per_ip = 0        # every load client connects from 127.0.0.1
[cluster]
mode = "redis"
redis_url = "redis://127.0.0.1:{redis_port}"
name = "bench"
{tributary_view() if view else ""}[dialects.trading]                # the dialect scenario: config/migrations/trading_ws.toml's prices
path = "/ws/trading"
[dialects.trading.receive.subscribe]
action = "subscribe"
channel = "data.channel"
reply = '{{"id":{{id}},"type":"subscribed","timestamp":{{now}},"data":{{"channel":{{channel}}}}}}'
[dialects.trading.channels.prices]
topics = "price.*"
send = '{{"id":{{id}},"type":"price_update","timestamp":{{now}},"data":{{data}}}}'
""")
    log = os.environ.get("BENCH_SERVER_LOG") or os.path.join(tmp, "tributary.log")
    return spawn([f"{build}/core/tributary", "run", "-c", cfg], 0, stderr=open(log, "w"))


def go_server(build, port, redis_port, tmp, deflate=False, view=False):
    exe = os.path.join(tmp, "go_peer")
    if not os.path.exists(exe):
        env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOCACHE=os.path.join(tmp, "gocache"), GOFLAGS="")
        subprocess.run(["go", "build", "-o", exe, os.path.join(HERE, "go_peer", "main.go")], env=env, check=True)
    spec = "view:dashboard:" + ",".join(f"{o}={t}:{f}" for o, t, f in VIEW_FIELDS)
    return spawn([exe, str(port), str(redis_port), "bench"] + ([spec] if view else []) + (["deflate"] if deflate else []), 0,
                 stdout=subprocess.DEVNULL,
                 stderr=open(os.path.join(tmp, "go.log"), "w"))


def node_server(build, port, redis_port, tmp, deflate=False, view=False):
    return spawn(["node", os.path.join(HERE, "node_peer.js"), str(port), str(redis_port), "bench"], 0,
                 stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "node.log"), "w"))


def run_peer(name, start, args, only, tmp):
    results = {}
    for scenario in only:
        if (scenario == "compression" and name == "node") or (scenario == "dialect" and name != "tributary"):
            continue  # the Node peer has no compression mode; dialects are Tributary's
        if scenario == "compression":
            results[scenario] = {mode: run_scenario(start, args, tmp, mode == "deflate", True,
                                                    lambda port: compression(args.build, port, args.redis_port, mode == "deflate"))
                                 for mode in ("plain", "deflate")}
        else:
            results[scenario] = run_scenario(start, args, tmp, False, False, lambda port: one_scenario(scenario, args, port))
        print(json.dumps({"peer": name, "scenario": scenario, **results[scenario]}), flush=True)
    return results


def one_scenario(scenario, args, port):
    redis_port = args.redis_port
    if scenario == "broadcast1000":
        return broadcast(args.build, port, redis_port, 1000, [100, 400, 1600, 2000, 3200, 6400, 9600, 12800])
    if scenario == "broadcast9000":
        return broadcast(args.build, port, redis_port, 9000, [10, 40, 160, 360, 720])
    if scenario == "personal":
        return personal(args.build, port, redis_port, 9000, [1000, 5000, 10000, 15000])
    if scenario == "scale":
        return personal(args.build, port, redis_port, 9000, [30000])
    if scenario == "memory":
        return memory(SERVER[0], args.build, port, 9000)
    if scenario == "dialect":
        return dialect(args.build, port, redis_port)
    raise ValueError(f"unknown scenario {scenario}")


def run_scenario(start, args, tmp, deflate, view, run):
    """Starts the peer on a free port, runs one scenario against it and stops it. Only the
    compression scenario has the dashboard view (a view's records are published where records are
    numbered: Tributary's leader writes each to the stream, which the other scenarios leave out)."""
    port = free_port()
    srv = start(args.build, port, args.redis_port, tmp, deflate, view)
    SERVER[0] = srv.pid
    wait_port(port)
    time.sleep(1.5)  # Tributary: lease and stream reader up
    try:
        return run(port)
    finally:
        stop(srv)


def stop(srv):
    """SIGTERM, then SIGKILL after 10 s."""
    srv.terminate()
    try:
        srv.wait(10)
    except subprocess.TimeoutExpired:
        srv.kill()


def table(res):
    """One column per peer, Tributary's first whatever order they ran in; ratios of tributary
    against each other peer."""
    names = sorted(res, key=lambda n: n != "tributary")
    others = names[1:]
    head = "| scenario | " + " | ".join(names + [f"tributary / {o}" for o in others]) + " |"
    rows = [head, "|" + "---|" * (1 + len(names) + len(others))]

    def row(label, get, better_low=False):
        vals = [get(res[n]) for n in names]
        ratios = []
        for v in vals[1:]:
            a, b = vals[0], v
            ratios.append(f"{(a / b):.2f}x" if a and b else "")
        rows.append(f"| {label} | " + " | ".join([str(v) for v in vals] + ratios) + " |")

    first = res[names[0]]
    for sc in ("broadcast1000", "broadcast9000"):
        if sc in first:
            row(f"{sc}: peak deliveries/s", lambda r: r[sc]["peak_deliveries_s"])
            for i, st in enumerate(first[sc]["steps"]):
                row(f"{sc}: offered {st['rate']}/s, p99 ms", lambda r: r[sc]["steps"][i]["p99_ms"], True)
            row(f"{sc}: deliveries/s offered 3x peak", lambda r: r[sc]["over_3x"]["deliveries_s"])
    for sc in ("personal", "scale"):
        if sc in first:
            for i, st in enumerate(first[sc]["steps"]):
                lbl = f"{sc} 9000: offered {st['rate']}/s"
                row(f"{lbl}, delivered share", lambda r: r[sc]["steps"][i]["delivered_share"])
                row(f"{lbl}, p99 ms", lambda r: r[sc]["steps"][i]["p99_ms"], True)
                row(f"{lbl}, server CPU us per delivery", lambda r: r[sc]["steps"][i]["cpu_us_per_delivery"], True)
    if "memory" in first:
        row("idle connection, bytes of RSS each (9000)", lambda r: r["memory"]["bytes_per_conn"], True)
    if "dialect" in first:
        for path in ("ws", "dialect"):
            row(f"dialect 1000: {path}, peak deliveries/s", lambda r: r["dialect"][path]["peak_deliveries_s"])
            for i, st in enumerate(first["dialect"][path]["steps"]):
                row(f"dialect 1000: {path}, offered {st['rate']}/s, p99 ms", lambda r: r["dialect"][path]["steps"][i]["p99_ms"], True)
        row("dialect 1000: dialect / ws, peak deliveries/s", lambda r: r["dialect"]["dialect_over_ws"])
    if "compression" in first:
        compression_rows(first, row)
    return "\n".join(rows)


def compression_rows(first, row):
    """Per offered rate: wire bytes and CPU per delivery, plain and deflate, and each peer's
    deflate run over its own plain run."""
    for i, st in enumerate(first["compression"]["plain"]["steps"]):
        lbl = f"compression 1000: offered {st['rate']}/s"
        get = lambda mode, key: (lambda r: r["compression"][mode]["steps"][i][key] if "compression" in r else "")
        for mode in ("plain", "deflate"):
            row(f"{lbl}, {mode}: delivered share", get(mode, "delivered_share"))
            row(f"{lbl}, {mode}: wire bytes per delivery", get(mode, "wire_bytes_per_delivery"), True)
            row(f"{lbl}, {mode}: server CPU us per delivery", get(mode, "cpu_us_per_delivery"), True)
            row(f"{lbl}, {mode}: server CPU (cores)", get(mode, "server_cpu"), True)
        own = lambda key: (lambda r: round(r["compression"]["deflate"]["steps"][i][key] /
                                           max(1e-9, r["compression"]["plain"]["steps"][i][key]), 3)
                           if "compression" in r else "")
        row(f"{lbl}, deflate / plain: wire bytes per delivery", own("wire_bytes_per_delivery"), True)
        row(f"{lbl}, deflate / plain: server CPU us per delivery", own("cpu_us_per_delivery"), True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--only", default="broadcast1000,broadcast9000,personal,scale,memory,compression")
    ap.add_argument("--peers", default="tributary,go,node")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    only = args.only.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        args.redis_port = free_port()
        redis = spawn(["redis-server", "--port", str(args.redis_port), "--save", "", "--appendonly", "no"], 1,
                      stdout=subprocess.DEVNULL)
        wait_port(args.redis_port)
        starts = {"tributary": tributary_server, "go": go_server, "node": node_server}
        res = {}
        try:
            for name in args.peers.split(","):
                res[name] = run_peer(name, starts[name], args, only, tmp)
        finally:
            redis.terminate()
        print(table(res))


if __name__ == "__main__":
    sys.exit(main())
