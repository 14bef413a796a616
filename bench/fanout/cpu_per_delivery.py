#!/usr/bin/env python3
"""bench/fanout/cpu_per_delivery.py: server CPU per delivery on personal topics, at steady state.

Each server in turn (Tributary as a cluster follower, the Go peer, the Node peer) is pinned to
CPU 0 and follows the same Redis stream; 9,000 clients each subscribe to their own topic
(price.P<i>-USDT); bench_fanout_feeder writes RATE records/s spread over the 9,000 topics.
After a ramp of 3 s, the server's CPU time (user + system, all threads, from /proc) is read
over WINDOW seconds while the load client counts deliveries and latency each second. Prints one
JSON line per server (with each second's p99, whose highest is the run's p99_ms, and the p99 of
all the window's samples together, p99_ms_window) and a Markdown table with the ratios to
Tributary.

Usage: bench/fanout/cpu_per_delivery.py [--build build] [--before DIR] [--rates 10000,30000]
                                        [--peers tributary,go,node] [--window 8] [--repeat 3] [--stream-lag]
                                        [--redis-nice 0]
--before DIR also runs an older Tributary build (its core/tributary, plugins and bench/).
--repeat N runs every server N times, in rounds whose order rotates (fanout.rounds), and reports
the median of each figure and each round's ratio (a shared 2-core VM varies by 15-25 % from one
run to the next; use a multiple of the number of servers).
--redis-nice N runs Redis, which shares the load's core with the load client and the feeder, at
nice N (default 0). Below 0 it is served before the client's passes over thousands of sockets, as
if it had its own machine: see docs/benchmarks.md, "seventh", for what that changes (a little).
--stream-lag also reads the stream beside the server (bench_fanout_stream_lag, on the server's
CPU) and prints, for each second, the p99 from the feeder's stamp to Redis's append (the entry id's
millisecond) and to that read (the feeder's and Redis's part of the latency), the client's slowest
delivery and its longest pass over one epoll_wait's events.
"""
import argparse, json, os, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as fanout  # noqa: E402


def measure(name, start, build, rp, rate, window, tmp, stream_lag, conns=9000):
    port = fanout.free_port()
    srv = start(build, port, rp, tmp)
    fanout.SERVER[0] = srv.pid
    try:
        fanout.wait_port(port)
        time.sleep(1.5)
        load = fanout.Load(build, port, conns, "personal", 600)
        time.sleep(2)
        c0, t0 = fanout.cpu_s(srv.pid), time.time()
        time.sleep(3)
        idle = (fanout.cpu_s(srv.pid) - c0) / (time.time() - t0)
        watch = stream_lag and fanout.spawn([f"{build}/bench/bench_fanout_stream_lag", "127.0.0.1", str(rp), "bench",
                                             str(window + 6)], 0, stdout=subprocess.PIPE, text=True)
        feeder = fanout.feed(build, rp, rate, window + 7, conns, "P")
        load.lines(3)  # the ramp, and every line written before it
        load.take(1)  # the window starts as a line arrives: see Load.take
        c0, t0 = fanout.cpu_s(srv.pid), time.time()
        got = load.take(window)
        c1, t1 = fanout.cpu_s(srv.pid), time.time()
        feeder.wait()
        load.stop()
        lag = {x["t"]: x for x in map(json.loads, watch.communicate()[0].splitlines())} if watch else {}
    finally:
        fanout.stop(srv)
    delivered = sum(x["deliveries"] for x in got)
    secs = max(1, len(got))
    out = {"peer": name, "rate": rate, "idle_cpu": round(idle, 3), "cpu": round((c1 - c0) / (t1 - t0), 3),
           "delivered_per_s": round(delivered / secs), "delivered_share": round(delivered / (rate * secs), 4),
           "cpu_us_per_delivery": round((c1 - c0) * 1e6 / max(1, delivered), 2),
           "p50_ms": sorted(x["p50_ms"] for x in got)[len(got) // 2] if got else -1,
           "p99_ms": max((x["p99_ms"] for x in got), default=-1),
           "p99_ms_window": window_p99(got),
           "p99_ms_by_second": [x["p99_ms"] for x in got]}
    if stream_lag:  # where each second's slowest deliveries were slow: see --stream-lag
        out |= {"max_ms_by_second": [x["max_ms"] for x in got], "client_busy_max_ms_by_second": [x["busy_max_ms"] for x in got],
                "stream_added_p99_ms_by_second": [lag.get(x["t"], {}).get("added_p99_ms", -1) for x in got],
                "stream_read_p99_ms_by_second": [lag.get(x["t"], {}).get("p99_ms", -1) for x in got]}
    print(json.dumps(out), flush=True)
    return out


def window_p99(seconds):
    """The p99 of every latency sample of the window together (the seconds' histograms merged):
    beside p99_ms, the worst second's p99, which one slow second decides."""
    merged = {}
    for x in seconds:
        for ms, n in x.get("latency_ms", []):
            merged[ms] = merged.get(ms, 0) + n
    total, seen = sum(merged.values()), 0
    for ms in sorted(merged):
        seen += merged[ms]
        if seen * 100 >= total * 99:
            return ms
    return -1


def pairwise(res, names):
    """Tributary's CPU per delivery over each other peer's, round by round (the runs of one round
    share the machine's state of the moment): each ratio, and their median."""
    lines = []
    for (name, rate), runs in res.items():
        if name == names[0]:
            continue
        mine = res[(names[0], rate)]
        ratios = sorted(round(a["cpu_us_per_delivery"] / b["cpu_us_per_delivery"], 2) for a, b in zip(mine, runs) if b["cpu_us_per_delivery"])
        if ratios:
            lines.append(f"{rate}/s, {names[0]} / {name} round by round: {ratios}, median {ratios[len(ratios) // 2]}")
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(fanout.ROOT, "build"))
    ap.add_argument("--before", default="")
    ap.add_argument("--rates", default="10000,30000")
    ap.add_argument("--peers", default="tributary,go,node")
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--stream-lag", action="store_true")
    ap.add_argument("--redis-nice", type=int, default=0)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    starts = {"tributary": fanout.tributary_server, "go": fanout.go_server, "node": fanout.node_server}
    runs = [(n, starts[n], build) for n in args.peers.split(",")]
    if args.before:
        runs.insert(1, ("tributary-before", fanout.tributary_server, os.path.abspath(args.before)))
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        rp = fanout.free_port()
        redis = fanout.spawn(["nice", "-n", str(args.redis_nice), "redis-server", "--port", str(rp), "--save", "", "--appendonly", "no"], 1,
                             stdout=subprocess.DEVNULL)
        fanout.wait_port(rp)
        try:
            for rate in map(int, args.rates.split(",")):
                for order in fanout.rounds(runs, args.repeat):
                    for name, start, b in order:
                        res.setdefault((name, rate), []).append(measure(name, start, b, rp, rate, args.window, tmp, args.stream_lag))
            pairs = pairwise(res, [n for n, _, _ in runs])
            res = {k: {f: sorted(r[f] for r in v)[len(v) // 2] for f in v[0] if not f.endswith("by_second") and f != "peer"}
                   for k, v in res.items()}
        finally:
            redis.terminate()
    names = [n for n, _, _ in runs]
    print("| 9,000 personal topics | " + " | ".join(names) + " | " + " | ".join(f"tributary / {n}" for n in names[1:]) + " |")
    print("|---|" + "---|" * (2 * len(names) - 1))
    for rate in map(int, args.rates.split(",")):
        for key in ("cpu_us_per_delivery", "delivered_share", "p99_ms", "p99_ms_window"):
            vals = [res[(n, rate)][key] for n in names]
            ratios = [f"{vals[0] / v:.2f}x" if v else "" for v in vals[1:]]
            print(f"| {rate}/s: {key} | " + " | ".join(map(str, vals)) + " | " + " | ".join(ratios) + " |")
    for line in pairs:
        print(line)


if __name__ == "__main__":
    sys.exit(main())
