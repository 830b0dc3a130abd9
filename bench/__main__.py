"""``python -m bench``: run every section, print one table of figures and ratios.

To add a section, write ``bench/<name>.py`` with ``run() -> list[Row]`` and add its module name to
``SECTIONS``.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback

from bench.common import Row

SECTIONS = [
    "bench.engine",
    "bench.monitoring",
    "bench.widgets",
    "bench.server",
    "bench.bridge",
    "bench.executors",
]

PEERS = [("plain", "plain Python"), ("upstream", "upstream 0.10.0"), ("langgraph", "LangGraph")]


def _fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def _ratio(row: Row, peer: str) -> str:
    other = row.peers.get(peer)
    if other is None or row.value is None or row.value == 0 or other == 0:
        return "-"
    r = row.value / other if row.higher_is_better else other / row.value
    return f"{r:.1f}x"


def render(rows: list[Row]) -> str:
    """One table: figures, peers, and how many times faster routilux is than each peer."""
    head = ["measure", "unit", "routilux"] + [label for _, label in PEERS] + [
        "vs upstream", "vs LangGraph", "target"]
    body = []
    for r in rows:
        body.append([f"[{r.section}] {r.measure}", r.unit, _fmt(r.value)]
                    + [_fmt(r.peers.get(p)) if p in r.peers else "-" for p, _ in PEERS]
                    + [_ratio(r, "upstream"), _ratio(r, "langgraph"), r.target])
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    line = lambda cells: " | ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    out = [line(head), "-+-".join("-" * w for w in widths), *map(line, body)]
    notes = [f"  [{r.section}] {r.measure}: {r.notes}" for r in rows if r.notes]
    if notes:
        out += ["", "notes:", *notes]
    out.append("")
    out.append("'vs' columns: how many times better routilux is (peer time / routilux time, or "
               "routilux rate / peer rate), all from this one run.")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    rows: list[Row] = []
    failed = False
    t0 = time.monotonic()
    for name in SECTIONS:
        try:
            mod = importlib.import_module(name)
            rows.extend(mod.run())
        except Exception:
            failed = True
            print(f"[bench] section {name} failed:", file=sys.stderr)
            traceback.print_exc()
    print(render(rows))
    print(f"(bench took {time.monotonic() - t0:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
