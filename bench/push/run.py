#!/usr/bin/env python3
"""bench/push: a push source end to end, against a hand-written Node.js peer, in one run.

Task-status JSON is published on a Redis pub/sub channel (bench_push_feeder, stepped rates).
Tributary subscribes through the redis_pubsub plugin (feed mode = "stream"); the peer is the
service it replaces: Node.js with `redis` and `ws`, subscribing to the same channel and
broadcasting each message as an update of event.<task_id>. 1,000 WebSocket clients subscribe
to event.* on each server in turn. The server runs pinned to CPU 0; Redis, feeder and load
client on CPU 1. Prints records/s in, deliveries/s out and publish-to-delivery latency.

With --upstream ws, the upstream is instead a local WebSocket server speaking Binance's stream
protocol (bench_ws_upstream) emitting 24hrTicker events for 10 symbols at stepped rates;
Tributary holds it through the binance plugin (mode = "stream", a combined stream), the peer
is the hand-written market-data service (Node.js `ws` client and server). Clients subscribe to
price.*; latency is from the event's own time (E, the record's ts) to delivery.

With --personal, the same Redis pub/sub source carries personal topics instead: 9,000 clients,
client i on event.user.<i>.x, messages spread over the 9,000 users at 10,000 msgs/s; Tributary
standalone against the Go peer (bench/fanout/go_peer, pubsub mode) and the Node peer, with
server CPU per delivery.

With --upstream kafka, the upstream is librdkafka's mock cluster (3 brokers, the tests' helper
build/tests/kafka_mock_cluster) and bench_kafka_feeder produces the task-status JSON to the
topic `tasks`; Tributary reads it through the kafka plugin (a consumer group), the peer is the
hand-written service on Kafka: Node.js with `kafkajs` (eachMessage) and `ws`.

Usage: bench/push/run.py [--build build] [--upstream redis|ws|kafka] [--personal [--repeat 3] [--before DIR]]
Needs: redis-server, node with bench/fanout/node_modules (cd bench/fanout && npm install).
--personal --repeat N: rounds whose order rotates (fanout.rounds); medians and each round's ratio.
"""
import argparse, json, os, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fanout"))
import run as fanout  # noqa: E402  (shared helpers: spawn, free_port, Load, cpu_s ...)

CHANNEL = "task_status_updates"
RATES = [100, 400, 1600, 3200, 6400]


SYMBOLS = ["BTC", "ETH", "SOL", "BNB", "XRP", "ADA", "DOGE", "TRX", "DOT", "LTC"]


def ws_url(ws_port):
    return f"ws://127.0.0.1:{ws_port}"


def combined_url(ws_port):
    return ws_url(ws_port) + "/stream?streams=" + "/".join(f"{s.lower()}usdt@ticker" for s in SYMBOLS)


def start_tributary(build, port, tmp, sources):
    """Tributary on `port` with `sources` (the [plugins] and [feeds] tables), pinned to CPU 0."""
    cfg = os.path.join(tmp, "bench.toml")
    with open(cfg, "w") as f:
        f.write(f"""[host]
plugin_dirs = ["{build}/plugins"]
log_level = "warn"
[server]
listen = "127.0.0.1:{port}"
[server.limits]
connections_per_ip = 0
""" + sources)
    return fanout.spawn([f"{build}/core/tributary", "run", "-c", cfg], 0, stderr=open(os.path.join(tmp, "tributary.log"), "w"))


def tributary_ws(build, port, ws_port, tmp):
    subjects = ", ".join(f'"{s}-USDT"' for s in SYMBOLS)
    return start_tributary(build, port, tmp, f"""[plugins.binance]
stream_url = "{ws_url(ws_port)}"
[feeds.spot]
kind = "price"
subjects = [{subjects}]
sources = ["binance"]
mode = "stream"
""")


def node_ws(build, port, ws_port, tmp):
    return fanout.spawn(["node", os.path.join(fanout.HERE, "node_peer.js"), str(port), "0", "bench", "binance:" + combined_url(ws_port)], 0,
                        stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "node.log"), "w"))


class WsUpstream:
    """bench_ws_upstream: the rate is set through its stdin."""

    def __init__(self, build):
        self.p = fanout.spawn([f"{build}/bench/bench_ws_upstream"], 1, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = json.loads(self.p.stdout.readline())["port"]

    def rate(self, r):
        self.p.stdin.write(f"{r}\n")
        self.p.stdin.flush()
        self.p.stdout.readline()

    def stop(self):
        self.p.terminate()
        self.p.wait(10)


def step_ws(args, load, rate, seconds=4):
    args.upstream_proc.rate(rate)
    c0, t0 = fanout.cpu_s(fanout.SERVER[0]), time.time()
    got = load.lines(seconds + 1)
    c1, t1 = fanout.cpu_s(fanout.SERVER[0]), time.time()
    args.upstream_proc.rate(0.001)
    time.sleep(0.5)
    steady = got[1:seconds] or got
    mid = sorted(steady, key=lambda x: x["deliveries"])[len(steady) // 2]
    return {"rate": rate, "deliveries_s": mid["deliveries"], "records_s": round(mid["deliveries"] / max(1, mid["open"])),
            "p50_ms": mid["p50_ms"], "p99_ms": max(x["p99_ms"] for x in steady), "server_cpu": round((c1 - c0) / (t1 - t0), 2)}


def tributary(build, port, redis_port, tmp, subject='subject_field = "task_id"'):
    return start_tributary(build, port, tmp, f"""[plugins.tasks]
plugin = "redis_pubsub"
redis_url = "redis://127.0.0.1:{redis_port}"
channel = "{CHANNEL}"
{subject}
[feeds.tasks]
kind = "event"
subjects = ["*"]
sources = ["tasks"]
mode = "stream"
""")


def node(build, port, redis_port, tmp):
    return fanout.spawn(["node", os.path.join(fanout.HERE, "node_peer.js"), str(port), str(redis_port), "bench",
                         f"pubsub:{CHANNEL}:task_id"], 0, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "node.log"), "w"))


def go(build, port, redis_port, tmp):
    exe = os.path.join(tmp, "go_peer")
    if not os.path.exists(exe):
        env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOCACHE=os.path.join(tmp, "gocache"))
        subprocess.run(["go", "build", "-o", exe, os.path.join(fanout.HERE, "go_peer", "main.go")], env=env, check=True)
    return fanout.spawn([exe, str(port), str(redis_port), "bench", f"pubsub:{CHANNEL}:task_id"], 0, stdout=subprocess.DEVNULL,
                        stderr=open(os.path.join(tmp, "go.log"), "w"))


def personal_once(args, tmp, name, start, rates, users, seconds):
    """One peer's steps: 9,000 clients on their own event.user.<i>.x, fed through pub/sub."""
    port = fanout.free_port()
    srv = start(args.build, port, args.redis_port, tmp)
    fanout.SERVER[0] = srv.pid
    fanout.wait_port(port)
    time.sleep(1.0)
    try:
        load = fanout.Load(args.build, port, users, "personal", 600, "event.user.{i}.x")
        load.lines(2)  # the server settles after 9,000 subscribes (a Go peer collects garbage)
        steps = []
        for rate in rates:
            # Steady state, as bench/fanout/cpu_per_delivery.py measures it: the feeder's first
            # seconds (and every line written before them) are read first, then a window.
            f = fanout.spawn([f"{args.build}/bench/bench_push_feeder", "127.0.0.1", str(args.redis_port), CHANNEL, str(rate),
                              str(seconds + 6), str(users), "user.{i}.x"], 1, stdout=subprocess.DEVNULL)
            load.take(4)
            c0, t0 = fanout.cpu_s(srv.pid), time.time()
            got = load.take(seconds)
            c1, t1 = fanout.cpu_s(srv.pid), time.time()
            f.wait()
            delivered = sum(x["deliveries"] for x in got)
            secs = max(1, len(got))
            steps.append({"rate": rate, "delivered_share": round(delivered / (rate * secs), 4),
                          "p99_ms": max(x["p99_ms"] for x in got), "server_cpu": round((c1 - c0) / (t1 - t0), 2),
                          "cpu_us_per_delivery": round((c1 - c0) * 1e6 / max(1, delivered), 2)})
        load.stop()
    finally:
        srv.terminate()
        srv.wait(10)
    print(json.dumps({"peer": name, "personal_push": steps}), flush=True)
    return steps


def personal(args, tmp, peers, rates=(10000,), users=9000, seconds=6):
    """Each peer in turn, args.repeat rounds in rotated order (fanout.rounds); the median of each figure."""
    runs = {name: [] for name, _ in peers}
    for order in fanout.rounds(peers, args.repeat):
        for name, start in order:
            runs[name].append(personal_once(args, tmp, name, start, rates, users, seconds))
    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    out = {name: [{k: median([r[i][k] for r in rs]) for k in rs[0][i]} for i in range(len(rates))] for name, rs in runs.items()}
    names = list(out)
    print(f"| 9,000 personal topics via pub/sub (medians of {args.repeat}) | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for i, st in enumerate(out[names[0]]):
        for key in ("delivered_share", "p99_ms", "cpu_us_per_delivery"):
            print(f"| {st['rate']} msgs/s: {key} | " + " | ".join(str(out[n][i][key]) for n in names) + " |")
    for n in names[1:]:  # round by round: the runs of one round share the machine's state of the moment
        ratios = sorted(round(a[0]["cpu_us_per_delivery"] / b[0]["cpu_us_per_delivery"], 2) for a, b in zip(runs[names[0]], runs[n]))
        print(f"{names[0]} / {n} CPU per delivery, round by round: {ratios}, median {ratios[len(ratios) // 2]}")
    return out


class KafkaCluster:
    """librdkafka's mock cluster (3 brokers, the tests' helper) with the topic `tasks`."""

    def __init__(self, build):
        self.p = fanout.spawn([f"{build}/tests/kafka_mock_cluster", "3"], 1, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = self.p.stdout.readline().split()[1]  # the bootstrap servers
        self.p.stdin.write(f"topic {TOPIC} 3\n")
        self.p.stdin.flush()
        assert self.p.stdout.readline().strip() == "ok"

    def stop(self):
        self.p.stdin.close()
        self.p.wait(10)


TOPIC = "tasks"


def tributary_kafka(build, port, brokers, tmp):
    return start_tributary(build, port, tmp, f"""[plugins.tasks]
plugin = "kafka"
brokers = "{brokers}"
topics = ["{TOPIC}"]
group = "bench-tributary-{port}"
subject = "{{task_id}}"
[feeds.tasks]
kind = "event"
subjects = ["*"]
sources = ["tasks"]
mode = "stream"
""")


def node_kafka(build, port, brokers, tmp):
    return fanout.spawn(["node", os.path.join(fanout.HERE, "node_peer.js"), str(port), "0", "bench", f"kafka:{TOPIC}:task_id:{brokers}"], 0,
                        stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "node.log"), "w"))


def step_kafka(args, load, rate, seconds=4):
    f = fanout.spawn([f"{args.build}/bench/bench_kafka_feeder", args.upstream_proc.port, TOPIC, str(rate), str(seconds), "50"], 1,
                     stdout=subprocess.DEVNULL)
    return measure(load, f, rate, seconds)


def step(build, redis_port, load, rate, seconds=4):
    f = fanout.spawn([f"{build}/bench/bench_push_feeder", "127.0.0.1", str(redis_port), CHANNEL, str(rate), str(seconds), "50"], 1,
                     stdout=subprocess.DEVNULL)
    return measure(load, f, rate, seconds)


def measure(load, f, rate, seconds):
    """One step: the load client's per-second lines while feeder `f` runs."""
    c0, t0 = fanout.cpu_s(fanout.SERVER[0]), time.time()
    got = load.lines(seconds + 1)
    c1, t1 = fanout.cpu_s(fanout.SERVER[0]), time.time()
    f.wait()
    steady = got[1:seconds] or got
    mid = sorted(steady, key=lambda x: x["deliveries"])[len(steady) // 2]
    return {"rate": rate, "deliveries_s": mid["deliveries"], "records_s": round(mid["deliveries"] / max(1, mid["open"])),
            "p50_ms": mid["p50_ms"], "p99_ms": max(x["p99_ms"] for x in steady), "server_cpu": round((c1 - c0) / (t1 - t0), 2)}


def run_peer(name, start, args, tmp):
    port = fanout.free_port()
    ws = args.upstream == "ws"
    srv = start(args.build, port, args.upstream_proc.port if args.upstream != "redis" else args.redis_port, tmp)
    fanout.SERVER[0] = srv.pid
    fanout.wait_port(port)
    time.sleep(10.0 if args.upstream == "kafka" else 1.0)  # subscribed, connected, or its group's partitions assigned
    try:
        if ws:
            load = fanout.Load(args.build, port, 1000, "broadcast", 600, "price.*", "ts")
            steps = [step_ws(args, load, r) for r in RATES]
        elif args.upstream == "kafka":
            load = fanout.Load(args.build, port, 1000, "broadcast", 600, "event.*")
            steps = [step_kafka(args, load, r) for r in RATES + [12800, 25600]]
        else:
            load = fanout.Load(args.build, port, 1000, "broadcast", 600, "event.*")
            steps = [step(args.build, args.redis_port, load, r) for r in RATES]
        load.stop()
    finally:
        srv.terminate()
        srv.wait(10)
    out = {"peer": name, "steps": steps, "peak_deliveries_s": max(s["deliveries_s"] for s in steps)}
    print(json.dumps(out), flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(fanout.ROOT, "build"))
    ap.add_argument("--upstream", choices=["redis", "ws", "kafka"], default="redis")
    ap.add_argument("--personal", action="store_true")
    ap.add_argument("--peers", default="tributary,go,node")
    ap.add_argument("--repeat", type=int, default=1, help="--personal: runs of each peer, alternating; medians reported")
    ap.add_argument("--before", default="", help="--personal: also an older build (its core/tributary and plugins)")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    if args.upstream == "kafka":
        args.upstream_proc = KafkaCluster(args.build)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                t = run_peer("tributary", tributary_kafka, args, tmp)
                n = run_peer("node", node_kafka, args, tmp)
            finally:
                args.upstream_proc.stop()
        return table(t, n)
    if args.upstream == "ws":
        args.upstream_proc = WsUpstream(args.build)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                t = run_peer("tributary", tributary_ws, args, tmp)
                n = run_peer("node", node_ws, args, tmp)
            finally:
                args.upstream_proc.stop()
        return table(t, n)
    with tempfile.TemporaryDirectory() as tmp:
        args.redis_port = fanout.free_port()
        redis = fanout.spawn(["redis-server", "--port", str(args.redis_port), "--save", "", "--appendonly", "no"], 1,
                             stdout=subprocess.DEVNULL)
        fanout.wait_port(args.redis_port)
        try:
            if args.personal:
                # A value from the message is one segment of a subject (docs/configuration.md):
                # Tributary makes event.user.<i>.x from the message's "user" with a template.
                personal_tributary = lambda *a: tributary(*a, subject='subject = "user.{user}.x"')  # noqa: E731
                starts = {"tributary": personal_tributary, "go": go, "node": node}
                peers = [(n, starts[n]) for n in args.peers.split(",")]
                if args.before:  # an older build of Tributary beside this one, in the same run
                    before = os.path.abspath(args.before)
                    peers.insert(1, ("tributary-before", lambda _build, *a: personal_tributary(before, *a)))
                return personal(args, tmp, peers)
            t = run_peer("tributary", tributary, args, tmp)
            n = run_peer("node", node, args, tmp)
        finally:
            redis.terminate()
    table(t, n)


def table(t, n):
    print("| offered msgs/s | tributary deliveries/s | p50 / p99 ms | node deliveries/s | p50 / p99 ms | ratio |")
    print("|---|---|---|---|---|---|")
    for a, b in zip(t["steps"], n["steps"]):
        ratio = a["deliveries_s"] / b["deliveries_s"] if b["deliveries_s"] else float("nan")
        print(f"| {a['rate']} | {a['deliveries_s']} | {a['p50_ms']} / {a['p99_ms']} | {b['deliveries_s']} | {b['p50_ms']} / {b['p99_ms']} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
