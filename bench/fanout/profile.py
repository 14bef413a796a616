#!/usr/bin/env python3
"""bench/fanout/profile.py: `perf record -g` on Tributary under the broadcast load of run.py.

Starts Redis and Tributary (a cluster follower, pinned to CPU 0, as in run.py), 1,000 clients on
`price.*` and the feeder at RATE records/s over seven topics (Redis, feeder and clients on CPU 1),
records the server for SECONDS after a 3 s ramp, and prints what the clients counted. Then read
the profile with, for example:

    perf report -i OUT --no-children --sort dso -g none
    perf report -i OUT --no-children --sort sym -g none

Usage: bench/fanout/profile.py [--build build] [--rate 6400] [--seconds 6] [--out perf.data]
Needs: redis-server, perf (linux-perf), and the bench programs (make).
"""
import argparse, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the harness: servers, feeder, load client)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rate", type=int, default=6400)
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--out", default="perf.data")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    tmp = tempfile.mkdtemp(prefix="tributary-profile-")
    redis_port = run.free_port()
    redis = run.spawn(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"], 1,
                      stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    port = run.free_port()
    srv = run.tributary_server(build, port, redis_port, tmp)
    run.SERVER[0] = srv.pid
    try:
        run.wait_port(port)
        time.sleep(1.5)  # lease and stream reader up
        load = run.Load(build, port, 1000, "broadcast", 600)
        feeder = run.feed(build, redis_port, args.rate, args.seconds + 6, 7, "B")
        time.sleep(3)
        perf = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o", args.out, "-p", str(srv.pid), "--",
                                 "sleep", str(args.seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        got = load.lines(args.seconds)
        perf.wait()
        print("deliveries/s:", [x["deliveries"] for x in got])
        print("p99 ms:", [x["p99_ms"] for x in got])
        print(f"profile: {args.out}")
        feeder.wait()
        load.stop()
    finally:
        srv.kill()
        redis.kill()


if __name__ == "__main__":
    sys.exit(main())
