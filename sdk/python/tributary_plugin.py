"""Write a Tributary exec plugin in Python (standard library only).

The host starts the plugin's command with one end of a socket as stdin and stdout and speaks
the exec protocol (docs/plugins.md, "Exec plugins"): each message is a 4-byte big-endian
length and that many bytes of JSON. The host does every HTTP request; the plugin only plans
requests and parses responses. This module does the protocol; a plugin is a class:

    import tributary_plugin as tp

    class Kraken(tp.Plugin):
        manifest = {"name": "kraken", "version": "1.0.0", "kinds": ["price"],
                    "default_base_url": "https://api.kraken.com"}

        def map_subject(self, kind, subject):        # "BTC-USDT" -> "XBTUSDT"
            ...
        def plan(self, feed):                        # yield tp.Request(...)
            ...
        def parse(self, feed, request, response):    # yield tp.Record(...) / tp.Error(...)
            ...

    if __name__ == "__main__":
        tp.serve(Kraken)

Raise tp.PluginError(cls, message) to fail a whole call with an error class ("retryable",
"rate_limited", "auth", "bad_request", "bad_data"); any other exception is "internal". While
serving, print() writes to stderr, which the host passes on to its own.
"""

import json
import os
import struct
import sys
import traceback

__all__ = ["Plugin", "Request", "Record", "Error", "PluginError", "Feed", "Subject", "Response", "Host", "serve"]

CLASSES = ("retryable", "rate_limited", "auth", "bad_request", "bad_data", "internal")
MAX_FRAME = 64 << 20
EXIT_OUT_OF_MEMORY = 86  # the host reports this exit status as "ran out of memory"


class PluginError(Exception):
    """Fails the call with an error class; `subject` names the one subject it is about."""

    def __init__(self, cls, message, subject="", retry_after_ms=0):
        super().__init__(message)
        if cls not in CLASSES:
            raise ValueError("unknown error class %r" % cls)
        self.cls, self.message, self.subject, self.retry_after_ms = cls, message, subject, retry_after_ms


class Request:
    """An HTTP request for the host to make. `base_url` empty: the instance's."""

    def __init__(self, path, query=(), headers=(), method="GET", body="", weight=1, tag="", base_url=""):
        self.path, self.method, self.body, self.weight, self.tag, self.base_url = path, method, body, weight, tag, base_url
        self.query = list(query.items()) if isinstance(query, dict) else list(query)
        self.headers = list(headers.items()) if isinstance(headers, dict) else list(headers)

    def to_json(self):
        return {"method": self.method, "base_url": self.base_url, "path": self.path,
                "query": [[str(k), str(v)] for k, v in self.query],
                "headers": [[str(k), str(v)] for k, v in self.headers],
                "body": self.body, "weight": self.weight, "tag": self.tag}

    @staticmethod
    def from_json(j):
        r = Request(j.get("path", ""), j.get("query", []), j.get("headers", []), j.get("method", "GET"),
                    j.get("body", ""), j.get("weight", 1), j.get("tag", ""), j.get("base_url", ""))
        return r


class Record:
    """One record: `data` holds the kind's fields (numbers, strings, booleans)."""

    def __init__(self, kind, subject, native, data, ts=0):
        self.kind, self.subject, self.native, self.data, self.ts = kind, subject, native, data, ts

    def to_json(self):
        return {"kind": self.kind, "subject": self.subject, "native": self.native, "ts": int(self.ts), "data": self.data}


class Error:
    """An error about part of the answer (one subject), while the rest is still used."""

    def __init__(self, cls, message, subject="", retry_after_ms=0):
        self.cls, self.message, self.subject, self.retry_after_ms = cls, message, subject, retry_after_ms

    def to_json(self):
        return {"class": self.cls, "message": self.message, "subject": self.subject, "retry_after_ms": int(self.retry_after_ms)}


class Subject:
    def __init__(self, canonical, native):
        self.canonical, self.native = canonical, native


class Feed:
    def __init__(self, j):
        self.feed, self.kind = j.get("feed", ""), j.get("kind", "")
        self.subjects = [Subject(s.get("canonical", ""), s.get("native", "")) for s in j.get("subjects", [])]


class Response:
    def __init__(self, j):
        self.status = j.get("status", 0)
        self.headers = [tuple(h) for h in j.get("headers", [])]
        self.body = j.get("body", "")
        self.received_ms = j.get("received_ms", 0)

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def json(self):
        """The body as JSON; PluginError("bad_data") when it is not."""
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise PluginError("bad_data", "the body is not JSON: %s" % e)

    def looks_like_html(self):
        return self.body.lstrip()[:1] == "<"

    def retry_after_ms(self):
        v = self.header("Retry-After")
        try:
            return int(float(v) * 1000) if v is not None else 0
        except ValueError:
            return 0


class Host:
    """Services of the host: logging, counters and its clock (fake in tests)."""

    def __init__(self, channel):
        self._channel, self._now = channel, 0

    def log(self, level, message):
        self._channel.send({"log": str(message), "level": level})

    def count(self, name, value=1):
        self._channel.send({"count": name, "value": value})

    def now_ms(self):
        return self._now


class Plugin:
    """Subclass and set `manifest` (docs/plugins.md lists its keys)."""

    manifest = {}

    def __init__(self, settings, host):
        self.settings, self.host = settings, host

    def map_subject(self, kind, subject):
        return subject

    def plan(self, feed):
        raise PluginError("bad_request", "this plugin does not poll")

    def parse(self, feed, request, response):
        raise PluginError("bad_request", "this plugin does not poll")

    def plan_stream(self, feed):
        raise PluginError("bad_request", "this plugin does not stream")

    def parse_message(self, feed, message):
        raise PluginError("bad_request", "this plugin does not stream")


class _Channel:
    def __init__(self, fd):
        self.fd = fd

    def read(self):
        head = self._exactly(4)
        if head is None:
            return None
        (n,) = struct.unpack(">I", head)
        if n > MAX_FRAME:
            raise SystemExit("tributary_plugin: a message over 64 MiB")
        body = self._exactly(n)
        if body is None:
            return None
        return json.loads(body.decode("utf-8"))

    def send(self, obj):
        data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "replace")
        view = memoryview(struct.pack(">I", len(data)) + data)
        while view:
            view = view[os.write(self.fd, view):]

    def _exactly(self, n):
        parts, left = [], n
        while left:
            chunk = os.read(self.fd, left)
            if not chunk:
                return None
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)


def _manifest(cls):
    m = {"version": "0.0.0", "description": "", "kinds": [], "secrets": [], "secret_envs": [],
         "default_base_url": "", "default_timeout": "10s", "settings_schema": {"type": "object"},
         "budget_header": None, "declared_kinds": {}, "modes": ["poll"], "abi": "1.2"}
    m.update(cls.manifest)
    return m


def _items(produced, answer):
    for item in produced or ():
        key = "requests" if isinstance(item, Request) else "records" if isinstance(item, Record) else "errors"
        if not isinstance(item, (Request, Record, Error)):
            raise TypeError("a plugin call yielded %r, not a Request, Record or Error" % (item,))
        answer.setdefault(key, []).append(item.to_json())


class _Server:
    def __init__(self, cls, channel):
        self.cls, self.channel, self.host, self.plugin = cls, channel, Host(channel), None

    def call(self, msg):
        call, answer = msg.get("call"), {}
        self.host._now = msg.get("now", 0)
        if call == "manifest":
            answer["manifest"] = _manifest(self.cls)
        elif call == "create":
            self.plugin = self.cls(msg.get("settings", {}), self.host)
        elif call == "destroy":
            self.plugin = None
        elif self.plugin is None:
            raise PluginError("bad_request", "no instance: call create first")
        elif call == "map_subject":
            answer["native"] = self.plugin.map_subject(msg.get("kind", ""), msg.get("subject", ""))
        elif call == "plan":
            _items(self.plugin.plan(Feed(msg["feed"])), answer)
        elif call == "parse":
            _items(self.plugin.parse(Feed(msg["feed"]), Request.from_json(msg["request"]), Response(msg["response"])), answer)
        elif call == "plan_stream":
            answer["stream"] = self.plugin.plan_stream(Feed(msg["feed"]))
        elif call == "parse_message":
            _items(self.plugin.parse_message(Feed(msg["feed"]), msg["message"]), answer)
        else:
            raise PluginError("bad_request", "unknown call %r" % call)
        answer["result"] = "ok"
        return answer

    def answer(self, msg):
        try:
            return self.call(msg)
        except PluginError as e:
            return {"result": e.cls, "errors": [Error(e.cls, e.message, e.subject, e.retry_after_ms).to_json()]}
        except MemoryError:
            os._exit(EXIT_OUT_OF_MEMORY)
        except Exception as e:  # a bug in the plugin: the host carries on
            traceback.print_exc()
            return {"result": "internal", "errors": [{"class": "internal", "message": "%s: %s" % (type(e).__name__, e)}]}


def serve(cls):
    """Serves `cls` to the host on stdin/stdout until the host closes or destroys it."""
    fd = os.dup(0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)  # print() must not write into the protocol
    sys.stdout = sys.stderr
    channel = _Channel(fd)
    server = _Server(cls, channel)
    while True:
        msg = channel.read()
        if msg is None:
            return
        channel.send(server.answer(msg))
        if msg.get("call") == "destroy":
            return
