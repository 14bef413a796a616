#!/usr/bin/env python3
"""Failover time of a three-instance cluster, over repeated kills of the leader.

Starts its own redis-server and three `tributary run` instances on cassettes with the given
lease, then repeatedly kills the current leader (alternating kill -9 and SIGTERM), measures the
time until another instance reports itself leader, restarts the killed one, and prints the
figures beside the lease.

  bench/failover.py --exe build/core/tributary --plugins build/plugins [--rounds 6] [--lease 3s] [--renew 1s]
"""
import argparse, json, os, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def status(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=1) as r:
            return json.load(r)
    except Exception:
        return None

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", required=True); ap.add_argument("--plugins", required=True)
    ap.add_argument("--cassettes", default=os.path.join(os.path.dirname(__file__), "..", "config", "demo-cassettes"))
    ap.add_argument("--rounds", type=int, default=6); ap.add_argument("--lease", default="3s"); ap.add_argument("--renew", default="1s")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tributary-failover-")
    rport = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    cfg = os.path.join(tmp, "cluster.toml")
    with open(cfg, "w") as f:
        f.write(f"""[host]
plugin_dirs = ["{os.path.abspath(a.plugins)}"]
log_level = "warn"
[cluster]
mode = "redis"
redis_url = "redis://127.0.0.1:{rport}"
name = "bench"
lease = "{a.lease}"
renew_every = "{a.renew}"
[plugins.binance]
[feeds.spot]
kind = "price"
subjects = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "ADA-USDT", "LINK-USDT", "BNB-USDT"]
every = "1s"
sources = ["binance"]
""")
    ports = [free_port() for _ in range(3)]
    procs = {}
    def start(i):
        procs[i] = subprocess.Popen([a.exe, "run", "-c", cfg, "--listen", f"127.0.0.1:{ports[i]}", "--replay", a.cassettes],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while status(ports[i]) is None:
            time.sleep(0.02)
    def leader(excluding=None):
        for i, p in enumerate(ports):
            if i != excluding:
                s = status(p)
                if s and s.get("role") == "leader":
                    return i
        return None
    results = {"kill -9": [], "SIGTERM": []}
    try:
        for i in range(3): start(i)
        while leader() is None: time.sleep(0.05)
        for r in range(a.rounds):
            how = "kill -9" if r % 2 == 0 else "SIGTERM"
            old = leader()
            t0 = time.monotonic()
            procs[old].send_signal(signal.SIGKILL if how == "kill -9" else signal.SIGTERM)
            while leader(excluding=old) is None:
                time.sleep(0.01)
            results[how].append((time.monotonic() - t0) * 1000)
            procs[old].wait()
            start(old)
    finally:
        for p in procs.values(): p.kill()
        redis.kill()
    lease_ms = float(a.lease.rstrip("s")) * 1000 if a.lease.endswith("s") and not a.lease.endswith("ms") else float(a.lease.rstrip("ms"))
    renew_ms = float(a.renew.rstrip("s")) * 1000 if a.renew.endswith("s") and not a.renew.endswith("ms") else float(a.renew.rstrip("ms"))
    print(f"lease_ms={lease_ms:.0f} renew_ms={renew_ms:.0f} bound_ms={lease_ms + renew_ms:.0f}")
    for how, xs in results.items():
        if xs:
            print(f"{how.replace(' ', '').replace('-', '')}_failover_ms runs={len(xs)} min={min(xs):.0f} "
                  f"median={statistics.median(xs):.0f} max={max(xs):.0f}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
