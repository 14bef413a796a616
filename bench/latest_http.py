#!/usr/bin/env python3
"""GET /api/v1/latest/{topic} throughput: Tributary against nginx serving the same bytes.

Tributary runs `run --replay config/demo-cassettes` (standalone), nginx serves the body
Tributary returned as a static file at the same path; each is pinned to CPU 0 with one
worker/I/O thread, and wrk (pinned to CPU 1) drives both in the same run.

Usage: bench/latest_http.py [--build build] [--seconds 10] [--connections 50]
Needs: wrk and nginx-light (Debian packages; for this benchmark only).
"""
import argparse, json, os, re, socket, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOPIC = "price.BTC-USDT"
PATH = f"/api/v1/latest/{TOPIC}"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(url):
    with urllib.request.urlopen(url, timeout=2) as r:
        return r.read()


def wrk(port, seconds, conns):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", f"http://127.0.0.1:{port}{PATH}"],
                         capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = re.search(r"Latency\s+(\S+)", out).group(1)
    return rps, lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tport, nport = free_port(), free_port()
        cfg = os.path.join(tmp, "t.toml")
        with open(os.path.join(ROOT, "config", "tributary.toml")) as f:
            base = f.read()
        base = re.sub(r'plugin_dirs = \[.*\]', f'plugin_dirs = ["{os.path.abspath(a.build)}/plugins"]', base)
        base = re.sub(r'listen = ".*"', f'listen = "127.0.0.1:{tport}"\nio_threads = 1', base)
        with open(cfg, "w") as f:
            f.write(base)
        trib = subprocess.Popen(["taskset", "-c", "0", f"{a.build}/core/tributary", "run", "-c", cfg, "--replay",
                                 os.path.join(ROOT, "config", "demo-cassettes")], stderr=subprocess.DEVNULL)
        try:
            body = None
            for _ in range(200):
                try:
                    body = get(f"http://127.0.0.1:{tport}{PATH}")
                    break
                except Exception:
                    time.sleep(0.05)
            if body is None:
                sys.exit("tributary did not serve the topic")
            root = os.path.join(tmp, "www")
            os.makedirs(os.path.join(root, "api/v1/latest"))
            with open(os.path.join(root, "api/v1/latest", TOPIC), "wb") as f:
                f.write(body)
            conf = os.path.join(tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(f"""user root; worker_processes 1; daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; default_type application/json; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{nport}; root {root}; }} }}
""")
            ngx = subprocess.Popen(["taskset", "-c", "0", "nginx", "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL)
            try:
                time.sleep(0.5)
                assert get(f"http://127.0.0.1:{nport}{PATH}") == body
                t_rps, t_lat = wrk(tport, a.seconds, a.connections)
                n_rps, n_lat = wrk(nport, a.seconds, a.connections)
            finally:
                ngx.terminate()
        finally:
            trib.terminate()
            trib.wait()
    print(json.dumps({"tributary_rps": t_rps, "tributary_latency": t_lat, "nginx_rps": n_rps, "nginx_latency": n_lat,
                      "ratio": round(t_rps / n_rps, 3), "body_bytes": len(body)}))


if __name__ == "__main__":
    main()
