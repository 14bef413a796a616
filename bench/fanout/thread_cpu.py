#!/usr/bin/env python3
"""bench/fanout/thread_cpu.py: where the server's CPU per delivery goes, thread by thread.

The personal-topic scenarios of cpu_per_delivery.py (cluster follower) and bench/push/run.py
--personal (a redis_pubsub push source, standalone): 9,000 clients each on its own topic,
10,000 records/s over the 9,000 topics, the server pinned to CPU 0 and everything else on CPU 1.
After the ramp, each server thread's user and system time (from /proc/PID/task/TID/stat) is read
over WINDOW seconds, and printed per delivery, with the peer's in the same run. `--clients 0`
runs the same feed with no clients at all (the reader's cost alone).

Usage: bench/fanout/thread_cpu.py [--build build] [--scenario push|follower] [--peers tributary,go]
                                  [--window 10] [--clients 9000]
"""
import argparse, importlib.util, os, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as fanout  # noqa: E402

_spec = importlib.util.spec_from_file_location("push", os.path.join(os.path.dirname(HERE), "push", "run.py"))
push = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(push)

RATE, TOPICS = 10000, 9000
TICK = os.sysconf("SC_CLK_TCK")


def threads(pid):
    """{tid: (name, user s, system s)} of every thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
            fields = rest.split()
            out[tid] = (head.split("(", 1)[1], int(fields[11]) / TICK, int(fields[12]) / TICK)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return out


def start(peer, scenario, build, port, rp, tmp):
    if scenario == "follower":
        return (fanout.tributary_server if peer == "tributary" else fanout.go_server)(build, port, rp, tmp)
    if peer == "tributary":
        return push.tributary(build, port, rp, tmp, 'subject = "user.{user}.x"')
    return push.go(build, port, rp, tmp)


def feed(scenario, build, rp, seconds):
    if scenario == "follower":
        return fanout.feed(build, rp, RATE, seconds, TOPICS, "P")
    return fanout.spawn([f"{build}/bench/bench_push_feeder", "127.0.0.1", str(rp), push.CHANNEL, str(RATE), str(seconds),
                         str(TOPICS), "user.{i}.x"], 1, stdout=subprocess.DEVNULL)


def measure(peer, args, rp, tmp):
    port = fanout.free_port()
    srv = start(peer, args.scenario, args.build, port, rp, tmp)
    fanout.SERVER[0] = srv.pid
    try:
        fanout.wait_port(port)
        time.sleep(1.5)
        pattern = ["event.user.{i}.x"] if args.scenario == "push" else []  # the follower's: the client's default
        load = fanout.Load(args.build, port, args.clients, "personal", 600, *pattern) if args.clients else None
        time.sleep(2)
        feeder = feed(args.scenario, args.build, rp, args.window + 7)
        if load:
            load.lines(4)
            load.take(1)
        else:
            time.sleep(4)
        a, t0 = threads(srv.pid), time.time()
        lines = load.take(args.window) if load else time.sleep(args.window)
        b, secs = threads(srv.pid), time.time() - t0
        n = sum(x["deliveries"] for x in lines) if load else RATE * secs  # without clients: per record fed
        rows = []
        for tid, (name, u, s) in b.items():
            if tid in a and (u - a[tid][1] or s - a[tid][2]):
                rows.append((tid, name, (u - a[tid][1]) * 1e6 / n, (s - a[tid][2]) * 1e6 / n))
        feeder.wait()
        if load:
            load.stop()
        return n, sorted(rows, key=lambda r: -(r[2] + r[3]))
    finally:
        fanout.stop(srv)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--scenario", choices=["push", "follower"], default="push")
    ap.add_argument("--peers", default="tributary,go")
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--clients", type=int, default=TOPICS)
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    fanout.raise_nofile()
    tmp = tempfile.mkdtemp()
    rp = fanout.free_port()
    redis = fanout.spawn(["redis-server", "--port", str(rp), "--save", "", "--appendonly", "no"], 1, stdout=subprocess.DEVNULL)
    totals = {}
    try:
        time.sleep(0.5)
        for peer in args.peers.split(","):
            n, rows = measure(peer, args, rp, tmp)
            user, system = sum(r[2] for r in rows), sum(r[3] for r in rows)
            totals[peer] = user + system
            what = "delivery" if args.clients else "record"
            print(f"{peer} ({args.scenario}, {n:.0f} per {args.window} s): {user + system:.2f} µs per {what}, "
                  f"user {user:.2f}, system {system:.2f}")
            for tid, name, u, s in rows:
                print(f"  thread {tid} ({name}): user {u:.2f} µs, system {s:.2f} µs")
        if "tributary" in totals and len(totals) > 1:
            for peer, t in totals.items():
                if peer != "tributary":
                    print(f"tributary / {peer}: {totals['tributary'] / t:.2f}")
    finally:
        redis.kill()


if __name__ == "__main__":
    main()
