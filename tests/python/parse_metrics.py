"""Parses a /metrics body from stdin with prometheus-client's own parser for the
format named by argv[1] ("openmetrics" or "text", the 0.0.4 format) and prints
the families as JSON: {name: {"type": t, "samples": [[name, labels, value]]}}.
Used by Switchboard's metrics tests to check /metrics with real parsers."""

import json
import sys

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text


def main() -> None:
    parse = {"openmetrics": parse_openmetrics, "text": parse_text}[sys.argv[1]]
    out = {}
    for family in parse(sys.stdin.read()):
        out[family.name] = {
            "type": family.type,
            "samples": [[s.name, s.labels, s.value] for s in family.samples],
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
