#!/usr/bin/env python3
"""permessage-deflate with Python's `websockets` (Debian's python3-websockets), which offers it
on every connection and compresses what it sends: against `tributary run` on the demo cassettes.
Several sessions on the same topics share the server's compression context (a deflate chain);
websockets' decompressor keeps its window between messages, as the RFC has it, and must read
every one. One session asks for server_no_context_takeover and gets it.

Usage: ws_deflate.py TRIBUTARY_EXE PLUGIN_DIR CASSETTE_DIR
"""
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

EXE, PLUGINS, CASSETTES = sys.argv[1:4]
CONFIG = f"""[host]
plugin_dirs = ["{PLUGINS}"]
log_level = "warn"
[server]
listen = "127.0.0.1:0"
[plugins.binance]
[feeds.spot]
kind = "price"
subjects = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "ADA-USDT", "LINK-USDT", "BNB-USDT"]
every = "200ms"
sources = ["binance"]
"""


def start(server_extra=""):
    d = tempfile.mkdtemp(prefix="tributary-py-")
    cfg, port_file = os.path.join(d, "t.toml"), os.path.join(d, "port")
    with open(cfg, "w") as f:
        f.write(CONFIG.replace("[plugins.binance]", server_extra + "\n[plugins.binance]"))
    proc = subprocess.Popen([EXE, "run", "-c", cfg, "--replay", CASSETTES, "--port-file", port_file])
    for _ in range(500):
        if os.path.exists(port_file) and open(port_file).read().strip():
            port = int(open(port_file).read())
            wait_for_records(port)  # a subscribe then gets snapshots, which the session checks
            return proc, port
        time.sleep(0.02)
    proc.kill()
    raise SystemExit("the server did not start")


def wait_for_records(port):
    for _ in range(500):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/topics") as r:
            if json.loads(r.read())["topics"]:
                return
        time.sleep(0.02)
    raise SystemExit("no records within 10 s")


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise SystemExit(f"no {name} in /metrics")


async def session(port, compression, updates=4, no_context=False):
    extensions = None
    if no_context:
        from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
        extensions = [ClientPerMessageDeflateFactory(server_no_context_takeover=True)]
        compression = None
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", compression=compression, extensions=extensions) as ws:
        ext = ws.response_headers.get("Sec-WebSocket-Extensions")
        assert json.loads(await ws.recv())["type"] == "hello"
        # Big enough that websockets sends it compressed (when agreed): the server inflates it.
        await ws.send(json.dumps({"type": "subscribe", "id": 1, "topics": ["price.*"], "pad": "x" * 4000}))
        types, seqs = [], {}
        while types.count("update") < updates:
            m = json.loads(await ws.recv())
            types.append(m["type"])
            if m["type"] in ("snapshot", "update"):
                topic, seq = m["topic"], m["record"]["seq"]
                assert seq == seqs.get(topic, seq - 1) + 1 or m["type"] == "snapshot", (topic, seq, seqs)
                seqs[topic] = seq
        assert types[0] == "subscribed" and "snapshot" in types, types
        return ext


async def main():
    proc, port = start()
    try:
        ext = await session(port, "deflate")
        assert ext == "permessage-deflate; client_no_context_takeover", ext
        # Six at once share chains (with one thread per CPU, two at least meet on a thread).
        exts = await asyncio.gather(*(session(port, "deflate", updates=40) for _ in range(6)),
                                    session(port, None, updates=40, no_context=True))
        assert exts[-1] == "permessage-deflate; server_no_context_takeover; client_no_context_takeover", exts
        chained = metric(port, "tributary_ws_deflate_chained_total")
        assert chained >= 40, chained  # shared contexts were used, and every message above read
        assert await session(port, None) is None  # not offered: plain
    finally:
        proc.terminate()
        proc.wait()
    proc, port = start('compression = "off"')
    try:
        assert await session(port, "deflate") is None  # turned off: declined
    finally:
        proc.terminate()
        proc.wait()
    print("ok: deflate agreed and read both ways, six sessions sharing a context; "
          "plain when not offered or turned off")


asyncio.run(main())
