"""report.html: one self-contained page a person reads in a browser, no server, no CDN.

Strategy: a Jinja2 template shipped as package data (templates/report.html,
with its CSS and the small filter script inlined by ``{% include %}``), with
autoescaping on, since server replies end up in the page. The Python side only
prepares what the template cannot compute simply: counts per area and per
level, the overall outcome, and filters that render a transcript entry
(``packet``), any value as indented JSON (``pretty``; ``marked``: with the
fields a failure's differences point at highlighted) and raw bytes as a hex
dump (``hexdump``). A failure lists what differs (field, expected, actual)
above its expected and actual values. Every case is an ``<article id="<case id>">`` so other
pages (the matrix) link straight to its evidence; failing cases start open.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from ..results import RunReport, TranscriptEntry, Verdict
from ._text import clip, clip_text
from .summary_md import LEVEL_ORDER, outcome

OPEN_VERDICTS = frozenset({"FAIL", "XPASS", "ERROR"})
HEXDUMP_MAX_BYTES = 4096
# transcript rows shown per case (the first and last halves; report.json has every one)
ROWS_OPEN, ROWS_CLOSED = 400, 60
ARROWS = {"send": "→", "recv": "←", "note": "·"}


def pretty(value: object) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(clip(value, 2000), indent=2, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def marked(value: object, differences: list[Mapping[str, Any]] | None, key: str) -> Markup:
    """``value`` as indented JSON (as ``pretty``), escaped, with every part a difference
    points at (its ``key``: ``expected_path`` or ``actual_path``) in a ``<mark>``."""
    paths = {tuple(d[key]) for d in differences or [] if d.get(key)}
    if isinstance(value, str) or not paths:
        return Markup(escape(pretty(value)))
    return Markup(_marked_json(clip(value, 2000), (), paths, ""))


def _marked_json(value: object, path: tuple[Any, ...], paths: set[tuple[Any, ...]],
                 pad: str) -> str:
    inner = pad + "  "
    if isinstance(value, Mapping) and value:
        body = ",\n".join(f"{inner}{escape(json.dumps(str(k), ensure_ascii=False))}: "
                           f"{_marked_json(v, (*path, k), paths, inner)}"
                           for k, v in value.items())
        text = "{\n" + body + "\n" + pad + "}"
    elif isinstance(value, list) and value:
        body = ",\n".join(inner + _marked_json(v, (*path, i), paths, inner)
                           for i, v in enumerate(value))
        text = "[\n" + body + "\n" + pad + "]"
    else:
        text = str(escape(json.dumps(value, ensure_ascii=False, default=repr)))
    return f'<mark class="differs">{text}</mark>' if path in paths else text


def packet_text(summary: Mapping[str, Any]) -> str:
    """One line for a decoded transcript entry: ``TYPE name=value ...`` or the admin line."""
    if "type" in summary:
        args = summary.get("args") or {}
        if isinstance(args, Mapping):
            rendered = " ".join(f"{k}={clip_text(str(v))}" for k, v in args.items())
        else:
            rendered = " ".join(clip_text(str(a)) for a in args)
        magic = summary.get("magic")
        prefix = f"[{magic}] " if magic else ""
        return f"{prefix}{summary['type']} {rendered}".rstrip()
    if "line" in summary:
        return clip_text(repr(summary["line"])[1:-1], 2000)
    if "note" in summary:
        rest = " ".join(f"{k}={clip_text(str(v))}" for k, v in summary.items() if k != "note")
        return f"{summary['note']} {rest}".rstrip()
    return pretty(dict(summary)) if summary else ""


# bytes -> the hexdump's text column: printable ASCII as itself, everything else "."
_PRINTABLE = bytes(b if 32 <= b < 127 else ord(".") for b in range(256))


def hexdump(raw_hex: str, width: int = 16) -> str:
    data = bytes.fromhex(raw_hex[:HEXDUMP_MAX_BYTES * 2])
    extra = len(raw_hex) // 2 - HEXDUMP_MAX_BYTES
    spaced = data.hex(" ")  # 3 characters a byte, sliced per row (one call, not one a row)
    text = data.translate(_PRINTABLE).decode("ascii")
    column = width * 3
    rows = [f"{off:04x}  {spaced[off * 3:(off + width) * 3 - 1]:<{column}} "
            f"{text[off:off + width]}" for off in range(0, len(data), width)]
    if extra > 0:
        rows.append(f"… {extra} more bytes (all of them are in report.json)")
    return "\n".join(rows)


def transcript_rows(entries: list[TranscriptEntry], open_case: bool = True) -> Markup:
    """The transcript table's rows, one line each, escaped as the template would.

    Rendered here rather than by a template loop: a run's transcripts hold tens of
    thousands of entries, and Jinja's per-row overhead made report.html the
    slowest report to write. A long transcript (a status listing of a long-lived
    server is one entry a function) shows its first and last rows around a note;
    bytes are shown for the cases that start open (the ones that did not pass).
    """
    limit = ROWS_OPEN if open_case else ROWS_CLOSED
    shown: list[TranscriptEntry | None] = list(entries)
    if len(entries) > limit:
        shown = [*entries[:limit // 2], None, *entries[-(limit // 2):]]
    rows = []
    for e in shown:
        if e is None:
            rows.append(f'      <tr class="cut"><td colspan="5">… {len(entries) - limit} '
                        f'entries not shown here; report.json has all {len(entries)}</td></tr>')
            continue
        data = ""
        if e.raw_hex and open_case:
            data = (f'<details><summary>{len(e.raw_hex) // 2} B</summary>'
                    f'<code class="hex">{escape(hexdump(e.raw_hex))}</code></details>')
        rows.append(f'      <tr class="d-{escape(e.direction)}"><td>{e.t:.4f}'
                    f'</td><td>{escape(e.actor)}</td><td>'
                    f'{escape(ARROWS.get(e.direction, "·"))}</td><td>'
                    f'{escape(packet_text(e.summary))}</td><td>{data}</td></tr>')
    return Markup("\n".join(rows))


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gearcheck.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pretty=pretty, packet=packet_text, hexdump=hexdump,
                       transcript_rows=transcript_rows, marked=marked)
    return env


def _table(report: RunReport, key: str, order: tuple[str, ...] = ()
           ) -> list[tuple[str, dict[str, int]]]:
    rows: dict[str, dict[str, int]] = defaultdict(lambda: {v.value: 0 for v in Verdict})
    for r in report.results:
        rows[getattr(r, key) or "?"][r.verdict.value] += 1
    names = sorted(rows, key=lambda n: (order.index(n) if n in order else len(order), n))
    return [(n, rows[n]) for n in names]


def render_html(report: RunReport, pcaps: Mapping[str, str] | None = None) -> str:
    counts = report.counts()
    present = [v for v in Verdict if counts[v.value]]
    return environment().get_template("report.html").render(
        report=report,
        server_label=report.server.name or report.server.address,
        outcome=outcome(report),
        counts=counts,
        verdicts=present,
        by_level=_table(report, "level", LEVEL_ORDER),
        by_area=_table(report, "area"),
        pcaps=dict(pcaps or {}),
        open_verdicts=OPEN_VERDICTS,
        arrows=ARROWS,
    )


def write_html(report: RunReport, path: Path | str, pcaps: Mapping[str, str] | None = None
               ) -> Path:
    """``pcaps`` maps case ids to capture paths relative to the HTML file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, pcaps), encoding="utf-8")
    return path
