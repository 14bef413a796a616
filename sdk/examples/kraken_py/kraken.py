#!/usr/bin/env python3
"""Kraken spot tickers as `price` records: an exec plugin in Python.

    [plugins.kraken]
    plugin = "exec"
    command = ["python3", "kraken.py"]     # run in the config file's directory

Kraken names Bitcoin XBT: the canonical BTC-USDT is asked for as XBTUSDT. One request per run
serves every subject of the feed (GET /0/public/Ticker?pair=XBTUSDT,ETHUSDT).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import tributary_plugin as tp  # noqa: E402

ALIASES = {"BTC": "XBT", "DOGE": "XDG"}
# Kraken answers for a few old pairs under their legacy names: XXBTZUSD for XBTUSD.
LEGACY_FIAT = {"USD", "EUR", "GBP", "JPY", "CAD"}


def legacy_name(native):
    for quote in LEGACY_FIAT:
        if native.endswith(quote) and len(native) > len(quote):
            return "X" + native[: -len(quote)] + "Z" + quote
    return None


class Kraken(tp.Plugin):
    manifest = {
        "name": "kraken",
        "version": "1.0.0",
        "description": "Kraken spot tickers (price), an exec plugin written in Python",
        "kinds": ["price"],
        "default_base_url": "https://api.kraken.com",
        "default_timeout": "5s",
        # Kraken's public endpoints: about one call per second, bursts of a few
        "default_rate_limit": {"requests": 1, "per": "1s", "burst": 3},
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"pairs": {"type": "object", "additionalProperties": {"type": "string"}}},
        },
    }

    def map_subject(self, kind, subject):
        if kind != "price":
            raise tp.PluginError("bad_request", "kraken serves price only", subject)
        if subject in self.settings.get("pairs", {}):
            return self.settings["pairs"][subject]
        parts = subject.split("-")
        if len(parts) != 2 or not all(parts):
            raise tp.PluginError("bad_request", "expected BASE-QUOTE, like BTC-USDT", subject)
        return "".join(ALIASES.get(p, p) for p in parts)

    def plan(self, feed):
        yield tp.Request("/0/public/Ticker", {"pair": ",".join(s.native for s in feed.subjects)})

    def parse(self, feed, request, response):
        if response.status == 429:
            raise tp.PluginError("rate_limited", "HTTP 429", retry_after_ms=response.retry_after_ms())
        if response.status >= 500 or response.looks_like_html():
            raise tp.PluginError("retryable", "HTTP %d" % response.status)
        body = response.json()
        if not isinstance(body, dict):
            raise tp.PluginError("bad_data", "the answer is not a JSON object")
        errors = body.get("error") or []
        result = body.get("result")
        if not isinstance(result, dict):
            cls = "rate_limited" if any("Too many requests" in str(e) for e in errors) else "bad_request"
            raise tp.PluginError(cls, "kraken: " + ", ".join(map(str, errors)) if errors else "no result in the answer")
        for s in feed.subjects:
            t = result.get(s.native) or result.get(legacy_name(s.native) or "")
            if not isinstance(t, dict):
                yield tp.Error("bad_request", "kraken has no pair " + s.native, s.canonical)
                continue
            try:
                yield tp.Record("price", s.canonical, s.native, ticker_fields(t))
            except (KeyError, IndexError, TypeError, ValueError) as e:
                yield tp.Error("bad_data", "unreadable ticker for %s: %s" % (s.native, e), s.canonical)


def ticker_fields(t):
    """Kraken's arrays: c = [last, lot], a/b = [price, ...], v/l/h = [today, 24 h], o = open."""
    price = float(t["c"][0])
    opened = float(t["o"])
    data = {
        "price": price,
        "bid": float(t["b"][0]),
        "ask": float(t["a"][0]),
        "open_24h": opened,
        "high_24h": float(t["h"][1]),
        "low_24h": float(t["l"][1]),
        "volume_24h": float(t["v"][1]),
        "change_24h": round(price - opened, 10),
    }
    if opened:
        data["change_24h_pct"] = round((price - opened) / opened * 100, 4)
    return data


if __name__ == "__main__":
    tp.serve(Kraken)
