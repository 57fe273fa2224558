"""Small SVG charts for the HTML dashboard, written as text: no script, no library, nothing to
fetch, so the page opens offline, prints, and shows the same picture in every browser. Every
mark carries a ``<title>`` (the browser's tooltip) with its exact numbers.

Each function takes plain lists (the rows of a report table) and returns one ``<svg>`` element
that scales to the width of its container.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["PALETTE", "funnel", "forest", "odds_forest", "heatmap", "curves", "histogram", "sankey", "hbars", "waterfall",
           "grouped_hbars", "columns"]

#: Colours of series (colour-blind safe, Okabe-Ito order).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999"]
_INK = "#222"
_MUTED = "#777"
_GRID = "#e3e3e3"
_GOOD = "#1a7f37"
_BAD = "#c62828"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def pct(v: float | None, digits: int = 1) -> str:
    """A proportion as a percentage, "-" for null."""
    return "-" if v is None else f"{100 * v:.{digits}f}%"


def num(v: float | None) -> str:
    """A number with thousands separators (whole numbers without decimals), "-" for null."""
    if v is None:
        return "-"
    if float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.2f}" if abs(v) >= 1 else f"{v:.3g}"


class _Svg:
    def __init__(self, width: float, height: float, label: str):
        self.w, self.h = width, height
        self.label = label
        self.parts: list[str] = []

    def add(self, s: str) -> None:
        self.parts.append(s)

    def rect(self, x: float, y: float, w: float, h: float, fill: str, title: str | None = None,
             extra: str = "") -> None:
        t = f"<title>{_e(title)}</title>" if title else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" fill="{fill}" '
                 f'{extra}>{t}</rect>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = _GRID, width: float = 1,
             dash: str | None = None) -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
                 f'stroke-width="{width}"{d}/>')

    def text(self, x: float, y: float, s: Any, *, anchor: str = "start", size: float = 12, fill: str = _INK,
             weight: str = "normal", extra: str = "") -> None:
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}" '
                 f'font-weight="{weight}" {extra}>{_e(s)}</text>')

    def path(self, d: str, *, fill: str = "none", stroke: str = "none", width: float = 1.5, opacity: float = 1,
             title: str | None = None) -> None:
        t = f"<title>{_e(title)}</title>" if title else ""
        self.add(f'<path d="{d}" fill="{fill}" stroke="{stroke}" stroke-width="{width}" '
                 f'fill-opacity="{opacity}" stroke-linejoin="round">{t}</path>')

    def render(self) -> str:
        return (f'<svg class="chart" viewBox="0 0 {self.w:.0f} {self.h:.0f}" role="img" aria-label="{_e(self.label)}" '
                f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, -apple-system, Segoe UI, Roboto, '
                f'sans-serif">' + "".join(self.parts) + "</svg>")


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + 1e-9 * step:
        out.append(round(v, 10))
        v += step
    return out


def _short(v: float) -> str:
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:g}B"
    if a >= 1e6:
        return f"{v / 1e6:g}M"
    if a >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def _x_axis(svg: _Svg, x0: float, x1: float, y0: float, y1: float, lo: float, hi: float, *, label: str = "",
            percent: bool = False, n: int = 5) -> None:
    for t in _ticks(lo, hi, n):
        x = x0 + (t - lo) / (hi - lo) * (x1 - x0) if hi > lo else x0
        svg.line(x, y0, x, y1)
        svg.text(x, y1 + 14, f"{100 * t:g}%" if percent else _short(t), anchor="middle", size=10, fill=_MUTED)
    if label:
        svg.text((x0 + x1) / 2, y1 + 30, label, anchor="middle", size=11, fill=_MUTED)


def _y_axis(svg: _Svg, x0: float, x1: float, y0: float, y1: float, lo: float, hi: float, *, label: str = "",
            percent: bool = False) -> None:
    for t in _ticks(lo, hi, 4):
        y = y1 - (t - lo) / (hi - lo) * (y1 - y0) if hi > lo else y1
        svg.line(x0, y, x1, y)
        svg.text(x0 - 6, y + 4, f"{100 * t:g}%" if percent else _short(t), anchor="end", size=10, fill=_MUTED)
    if label:
        svg.text(12, (y0 + y1) / 2, label, anchor="middle", size=11, fill=_MUTED,
                 extra=f'transform="rotate(-90 12 {(y0 + y1) / 2:.1f})"')


# -- charts ------------------------------------------------------------------------------------------
def funnel(stages: Sequence[str], reached: Sequence[int], step: Sequence[float | None],
           step_lo: Sequence[float | None] | None, step_hi: Sequence[float | None] | None,
           cumulative: Sequence[float | None], *, label: str = "funnel") -> str:
    """Centred bars, width by reach; each row says the step rate with its interval and the
    cumulative rate."""
    w, row = 760, 38
    h = 20 + row * len(stages)
    svg = _Svg(w, h, label)
    left, right = 120, 250
    span = w - left - right
    top = max(max(reached, default=0), 1)
    for i, (s, n) in enumerate(zip(stages, reached)):
        y = 10 + i * row
        bw = span * n / top
        x = left + (span - bw) / 2
        interval = ""
        if step_lo is not None and step_lo[i] is not None:
            interval = f" [{pct(step_lo[i])}, {pct(step_hi[i])}]"
        tip = f"{s}: {n:,} reached; step {pct(step[i])}{interval}; cumulative {pct(cumulative[i])}"
        svg.rect(x, y, bw, row - 8, PALETTE[0], tip, 'rx="3"')
        svg.text(left - 8, y + row / 2, s, anchor="end", size=12, weight="600")
        if bw > 60:
            svg.text(left + span / 2, y + row / 2, f"{n:,}", anchor="middle", size=12, fill="#fff", weight="600")
        else:
            svg.text(x + bw + 5, y + row / 2, f"{n:,}", size=12, weight="600")
        rate = "" if step[i] is None else f"step {pct(step[i])}{interval}"
        svg.text(left + span + 8, y + row / 2 - 6, rate, size=11)
        svg.text(left + span + 8, y + row / 2 + 8, f"cumulative {pct(cumulative[i])}", size=11, fill=_MUTED)
    return svg.render()


def forest(labels: Sequence[str], rate: Sequence[float | None], lo: Sequence[float | None],
           hi: Sequence[float | None], significant: Sequence[bool], z: Sequence[float | None],
           p: Sequence[float | None], *, overall: float | None, overall_lo: float | None, overall_hi: float | None,
           counts: Sequence[str], label: str = "forest plot") -> str:
    """One row per segment: the rate (dot) and its interval (line), against the overall rate
    (dashed line and band). Significant segments are marked above or below."""
    w, row = 760, 28
    h = 50 + row * len(labels)
    svg = _Svg(w, h, label)
    left, right = 130, 200
    x0, x1 = left, w - right
    vals = [v for v in [*hi, *lo, overall_hi] if v is not None]
    top = max(vals + [0.01]) * 1.08
    sx = lambda v: x0 + v / top * (x1 - x0)  # noqa: E731
    y_end = 20 + row * len(labels)
    _x_axis(svg, x0, x1, 10, y_end, 0.0, top, percent=True)
    if overall is not None:
        if overall_lo is not None:
            svg.rect(sx(overall_lo), 10, sx(overall_hi) - sx(overall_lo), y_end - 10, "#0072B2",
                     f"overall {pct(overall)} [{pct(overall_lo)}, {pct(overall_hi)}]", 'fill-opacity="0.08"')
        svg.line(sx(overall), 10, sx(overall), y_end, PALETTE[0], 1.2, "4 3")
    for i, lab in enumerate(labels):
        y = 20 + i * row + row / 2
        svg.text(left - 8, y + 4, lab, anchor="end", size=12)
        if rate[i] is None:
            continue
        colour = (_GOOD if (z[i] or 0) > 0 else _BAD) if significant[i] else _INK
        if lo[i] is not None:
            svg.line(sx(lo[i]), y, sx(hi[i]), y, colour, 2)
        tip = (f"{lab}: {pct(rate[i])} [{pct(lo[i])}, {pct(hi[i])}], {counts[i]}; z {num(z[i])}, "
               f"p (Holm) {'-' if p[i] is None else f'{p[i]:.3g}'}")
        svg.add(f'<circle cx="{sx(rate[i]):.1f}" cy="{y:.1f}" r="5" fill="{colour}"><title>{_e(tip)}</title></circle>')
        mark = ("▲ higher" if (z[i] or 0) > 0 else "▼ lower") if significant[i] else ""
        svg.text(x1 + 10, y + 4, f"{pct(rate[i])}  {mark}", size=11, fill=colour,
                 weight="600" if significant[i] else "normal")
    return svg.render()


def odds_forest(labels: Sequence[str], ratio: Sequence[float | None], lo: Sequence[float | None],
                hi: Sequence[float | None], q: Sequence[float | None], significant: Sequence[bool], *,
                counts: Sequence[str], label: str = "odds ratios") -> str:
    """One row per feature: the odds ratio (dot) and its interval (line) on a log axis, with the
    line of no association at 1. Significant rows are green above 1 and red below."""
    w, row = 760, 24
    h = 52 + row * len(labels)
    left = min(max(90, 12 + 6.2 * max((len(str(x)) for x in labels), default=0)), 240)
    right = 200
    x0, x1 = left, w - right
    finite = [v for v in [*lo, *hi, *ratio] if v is not None and math.isfinite(v) and v > 0]
    lo_v = min(finite + [0.5]) / 1.15
    hi_v = max(finite + [2.0]) * 1.15
    a, b = math.log10(lo_v), math.log10(hi_v)
    sx = lambda v: x0 + (math.log10(min(max(v, lo_v), hi_v)) - a) / (b - a) * (x1 - x0)  # noqa: E731
    y_end = 16 + row * len(labels)
    svg = _Svg(w, h, label)
    for k in range(math.floor(a), math.ceil(b) + 1):  # decades, with 2x and 5x between them when few
        for m in ((1, 2, 5) if b - a < 3 else (1,)):
            t = m * 10.0 ** k
            if lo_v <= t <= hi_v:
                svg.line(sx(t), 6, sx(t), y_end)
                svg.text(sx(t), y_end + 14, f"{t:g}", anchor="middle", size=10, fill=_MUTED)
    svg.text((x0 + x1) / 2, y_end + 30, "odds ratio (log scale); 1 = no association", anchor="middle", size=11,
             fill=_MUTED)
    svg.line(sx(1.0), 6, sx(1.0), y_end, _INK, 1.2, "4 3")
    for i, lab in enumerate(labels):
        y = 16 + i * row + row / 2 - 4
        svg.text(left - 8, y + 4, lab, anchor="end", size=11.5)
        r = ratio[i]
        if r is None or not math.isfinite(r) or r <= 0:
            svg.text(x0 + 4, y + 4, "not tested", size=11, fill=_MUTED)
            continue
        colour = (_GOOD if r > 1 else _BAD) if significant[i] else _INK
        if lo[i] is not None and hi[i] is not None:
            svg.line(sx(lo[i]), y, sx(hi[i]), y, colour, 2)
        qv = "-" if q[i] is None else f"{q[i]:.3g}"
        tip = f"{lab}: odds ratio {r:.3g} [{num(lo[i])}, {num(hi[i])}], q {qv}; {counts[i]}"
        svg.add(f'<circle cx="{sx(r):.1f}" cy="{y:.1f}" r="4.5" fill="{colour}"><title>{_e(tip)}</title></circle>')
        qs = "-" if q[i] is None else f"{q[i]:.2g}"
        svg.text(x1 + 8, y + 4, f"{r:.2f} [{lo[i]:.2f}, {hi[i]:.2f}] q {qs}", size=10, fill=colour,
                 weight="600" if significant[i] else "normal")
    return svg.render()


def _blue(v: float) -> str:
    v = min(max(v, 0.0), 1.0)
    r = round(247 - v * (247 - 8))
    g = round(251 - v * (251 - 81))
    b = round(255 - v * (255 - 156))
    return f"rgb({r},{g},{b})"


def _diverging(v: float) -> str:
    """Red below 1, green above 1 (attainment)."""
    if v != v:
        return "#f3f3f3"
    d = max(min(math.log2(max(v, 1e-6)), 1.5), -1.5) / 1.5
    if d < 0:
        return f"rgb({round(255 + d * 55)},{round(255 + d * 170)},{round(255 + d * 170)})"
    return f"rgb({round(255 - d * 180)},{round(255 - d * 80)},{round(255 - d * 170)})"


def heatmap(rows: Sequence[str], cols: Sequence[str], values: Sequence[Sequence[float | None]], *,
            flagged: Sequence[bool] | None = None, flag_text: str = "immature", row_note: Sequence[str] | None = None,
            percent: bool = True, diverging: bool = False, label: str = "heatmap") -> str:
    """A grid of cells coloured by value (shares, or with ``diverging`` ratios around 1);
    ``flagged`` rows are hatched and labelled."""
    cw, rh = 92, 24
    left, top = 110, 34
    right = 110
    w = left + cw * len(cols) + right
    h = top + rh * len(rows) + 10
    svg = _Svg(w, h, label)
    svg.add('<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#555" stroke-width="1.2" '
            'stroke-opacity="0.45"/></pattern></defs>')
    finite = [v for r in values for v in r if v is not None and v == v]
    vmax = max(finite + [1e-9])
    for j, c in enumerate(cols):
        svg.text(left + j * cw + cw / 2, top - 10, c, anchor="middle", size=11, weight="600")
    for i, r in enumerate(rows):
        y = top + i * rh
        svg.text(left - 8, y + rh / 2 + 4, r, anchor="end", size=11)
        for j, c in enumerate(cols):
            v = values[i][j]
            x = left + j * cw
            if v is None or v != v:
                svg.rect(x + 1, y + 1, cw - 2, rh - 2, "#f3f3f3", f"{r}, {c}: undefined")
                continue
            fill = _diverging(v) if diverging else _blue(v / vmax)
            shown = (pct(v) if percent else f"{v:.2f}")
            svg.rect(x + 1, y + 1, cw - 2, rh - 2, fill, f"{r}, {c}: {shown}")
            dark = (not diverging) and v / vmax > 0.55
            svg.text(x + cw / 2, y + rh / 2 + 4, shown, anchor="middle", size=10.5, fill="#fff" if dark else _INK)
        if flagged is not None and flagged[i]:
            svg.rect(left, y, cw * len(cols), rh, "url(#hatch)", f"{r}: {flag_text}")
            svg.text(left + cw * len(cols) + 8, y + rh / 2 + 4, flag_text, size=11, fill=_BAD)
        elif row_note is not None:
            svg.text(left + cw * len(cols) + 8, y + rh / 2 + 4, row_note[i], size=10.5, fill=_MUTED)
    return svg.render()


def curves(series: Sequence[dict[str, Any]], *, xlabel: str, ylabel: str, percent: bool = True,
           step: bool = True, label: str = "curves") -> str:
    """Lines (step functions by default) with optional bands: each series has ``name``, ``x``,
    ``y`` and optionally ``lo``, ``hi`` (lists of equal length)."""
    w, h = 760, 300
    left, right, top, bottom = 60, 150, 12, 44
    svg = _Svg(w, h, label)
    xs = [x for s in series for x in s["x"]]
    xmax = max(xs + [1e-9])
    ymax = 1.0 if percent else max([y for s in series for y in s["y"] if y is not None] + [1e-9])
    sx = lambda v: left + v / xmax * (w - left - right)  # noqa: E731
    sy = lambda v: h - bottom - v / ymax * (h - top - bottom)  # noqa: E731
    _y_axis(svg, left, w - right, top, h - bottom, 0.0, ymax, percent=percent, label=ylabel)
    for t in _ticks(0.0, xmax, 6):
        svg.text(sx(t), h - bottom + 14, _short(t), anchor="middle", size=10, fill=_MUTED)
    svg.text((left + w - right) / 2, h - 8, xlabel, anchor="middle", size=11, fill=_MUTED)

    def pts(x: Sequence[float], y: Sequence[float]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for k, (a, b) in enumerate(zip(x, y)):
            if b is None:
                continue
            if step and out:
                out.append((sx(a), out[-1][1]))
            out.append((sx(a), sy(b)))
        return out

    for k, s in enumerate(series):
        colour = s.get("colour", PALETTE[k % len(PALETTE)])
        if s.get("lo") is not None:
            upper = pts(s["x"], s["hi"])
            lower = pts(s["x"], s["lo"])
            if upper and lower:
                d = "M" + " L".join(f"{a:.1f},{b:.1f}" for a, b in upper) + " L" + \
                    " L".join(f"{a:.1f},{b:.1f}" for a, b in reversed(lower)) + " Z"
                svg.path(d, fill=colour, opacity=0.13)
        line = pts(s["x"], s["y"])
        if line:
            d = "M" + " L".join(f"{a:.1f},{b:.1f}" for a, b in line)
            svg.path(d, stroke=colour, width=2, title=s.get("title", s["name"]))
        ly = top + 14 + k * 18
        svg.line(w - right + 12, ly - 4, w - right + 30, ly - 4, colour, 3)
        svg.text(w - right + 36, ly, s["name"], size=11)
    return svg.render()


def histogram(starts: Sequence[float], ends: Sequence[float], counts: Sequence[int], *, xlabel: str,
              marks: Sequence[tuple[str, float]] = (), label: str = "histogram") -> str:
    """Bars over bins, with vertical marks (median, p90) labelled."""
    w, h = 760, 260
    left, right, top, bottom = 60, 20, 12, 44
    svg = _Svg(w, h, label)
    xmax = max(list(ends) + [1e-9])
    cmax = max(list(counts) + [1])
    sx = lambda v: left + v / xmax * (w - left - right)  # noqa: E731
    sy = lambda v: h - bottom - v / cmax * (h - top - bottom)  # noqa: E731
    _y_axis(svg, left, w - right, top, h - bottom, 0, cmax, label="entities")
    for a, b, c in zip(starts, ends, counts):
        svg.rect(sx(a) + 0.5, sy(c), sx(b) - sx(a) - 1, h - bottom - sy(c), PALETTE[0],
                 f"{a:.1f} to {b:.1f} days: {c:,}")
    for t in _ticks(0.0, xmax, 8):
        svg.text(sx(t), h - bottom + 14, _short(t), anchor="middle", size=10, fill=_MUTED)
    svg.text((left + w - right) / 2, h - 8, xlabel, anchor="middle", size=11, fill=_MUTED)
    for k, (name, v) in enumerate(marks):
        if v is None or not math.isfinite(v) or v > xmax:
            continue
        svg.line(sx(v), top, sx(v), h - bottom, PALETTE[1 + k], 1.5, "4 3")
        svg.text(sx(v) + 4, top + 12 + 14 * k, f"{name} {v:.1f} d", size=11, fill=PALETTE[1 + k])
    return svg.render()


def hbars(labels: Sequence[str], values: Sequence[float | None], *, texts: Sequence[str] | None = None,
          reference: float | None = None, reference_text: str = "", percent: bool = False,
          colours: Sequence[str] | None = None, label: str = "bars") -> str:
    """Horizontal bars from zero (negative values to the left), with an optional reference line."""
    w, row = 760, 26
    h = 40 + row * len(labels)
    left, right = min(max(70, 12 + 6.6 * max((len(str(x)) for x in labels), default=0)), 300), 40
    svg = _Svg(w, h, label)
    finite = [v for v in values if v is not None and math.isfinite(v)]
    lo = min(finite + [0.0])
    hi = max(finite + [0.0, reference or 0.0])
    hi = hi if hi > lo else lo + 1
    pad = (hi - lo) * 0.04
    lo, hi = (lo - pad if lo < 0 else lo), hi + pad
    sx = lambda v: left + (v - lo) / (hi - lo) * (w - left - right)  # noqa: E731
    y_end = 12 + row * len(labels)
    _x_axis(svg, left, w - right, 6, y_end, lo, hi, percent=percent)
    for i, lab in enumerate(labels):
        y = 12 + i * row
        svg.text(left - 8, y + row / 2 + 2, lab, anchor="end", size=12)
        v = values[i]
        shown = texts[i] if texts else (pct(v) if percent else num(v))
        if v is None or not math.isfinite(v):
            svg.text(sx(0) + 4, y + row / 2 + 2, shown if texts else "undefined", size=11, fill=_MUTED)
            continue
        colour = colours[i] if colours else (PALETTE[0] if v >= 0 else _BAD)
        x_a, x_b = sorted((sx(0), sx(v)))
        svg.rect(x_a, y + 3, x_b - x_a, row - 8, colour, f"{lab}: {shown}")
        room = w - 10 - max(x_b, sx(0))
        if room < 7 * len(shown) and x_b - x_a > 7 * len(shown):
            svg.text(x_b - 4, y + row / 2 + 2, shown, anchor="end", size=11, fill="#fff")
        else:
            svg.text(max(x_b, sx(0)) + 4, y + row / 2 + 2, shown, size=11)
    if reference is not None:
        svg.line(sx(reference), 6, sx(reference), y_end, _INK, 1.2, "4 3")
        svg.text(sx(reference), y_end + 28, reference_text, anchor="middle", size=10.5, fill=_INK)
    svg.line(sx(0), 6, sx(0), y_end, _MUTED, 1)
    return svg.render()


def grouped_hbars(groups: Sequence[str], series: Sequence[str], values: Sequence[Sequence[float | None]], *,
                  percent: bool = True, label: str = "grouped bars") -> str:
    """For each group (a row), one bar per series side by side, with a legend."""
    nb = max(len(series), 1)
    bar = 7
    gap = 10
    gh = bar * nb + gap
    w = 760
    left, right, top = 120, 160, 10
    h = top + gh * len(groups) + 34
    svg = _Svg(w, h, label)
    finite = [v for r in values for v in r if v is not None]
    hi = max(finite + [1e-9]) * 1.05
    sx = lambda v: left + v / hi * (w - left - right)  # noqa: E731
    y_end = top + gh * len(groups)
    _x_axis(svg, left, w - right, top, y_end, 0.0, hi, percent=percent)
    for i, g in enumerate(groups):
        y = top + i * gh
        svg.text(left - 8, y + gh / 2, g, anchor="end", size=12)
        for k, s in enumerate(series):
            v = values[i][k]
            if v is None:
                continue
            svg.rect(left, y + k * bar + 1, sx(v) - left, bar - 1, PALETTE[k % len(PALETTE)],
                     f"{g}, {s}: {pct(v) if percent else num(v)}")
    for k, s in enumerate(series):
        ly = top + 10 + k * 17
        svg.rect(w - right + 14, ly - 9, 12, 10, PALETTE[k % len(PALETTE)])
        svg.text(w - right + 32, ly, s, size=11)
    return svg.render()


def columns(labels: Sequence[str], bars: Sequence[dict[str, Any]], *, target: Sequence[float | None] | None = None,
            notes: Sequence[str] | None = None, label: str = "columns") -> str:
    """Vertical bars per label for one or more series (``name``, ``values``, ``colour``), with
    an optional target per label (a short black line)."""
    n = max(len(labels), 1)
    w, h = 760, 260
    left, right, top, bottom = 60, 140, 16, 46
    svg = _Svg(w, h, label)
    vals = [v for b in bars for v in b["values"] if v is not None] + [t for t in (target or []) if t is not None]
    hi = max(vals + [1]) * 1.1
    sy = lambda v: h - bottom - v / hi * (h - top - bottom)  # noqa: E731
    _y_axis(svg, left, w - right, top, h - bottom, 0, hi)
    slot = (w - left - right) / n
    bw = slot * 0.7 / max(len(bars), 1)
    for i, lab in enumerate(labels):
        x = left + i * slot + slot * 0.15
        for k, b in enumerate(bars):
            v = b["values"][i]
            if v is None:
                continue
            svg.rect(x + k * bw, sy(v), bw - 1, h - bottom - sy(v), b.get("colour", PALETTE[k]),
                     f"{lab}, {b['name']}: {num(v)}")
        if target is not None and target[i] is not None:
            svg.line(x - 2, sy(target[i]), x + bw * len(bars) + 2, sy(target[i]), _INK, 2)
        if n <= 16 or i % 2 == 0:
            svg.text(left + i * slot + slot / 2, h - bottom + 14, lab, anchor="middle", size=10, fill=_MUTED)
        if notes is not None and notes[i]:
            svg.text(left + i * slot + slot / 2, h - bottom + 28, notes[i], anchor="middle", size=9.5, fill=_BAD)
    for k, b in enumerate(bars):
        ly = top + 10 + k * 17
        svg.rect(w - right + 14, ly - 9, 12, 10, b.get("colour", PALETTE[k]))
        svg.text(w - right + 32, ly, b["name"], size=11)
    if target is not None:
        ly = top + 10 + len(bars) * 17
        svg.line(w - right + 14, ly - 4, w - right + 26, ly - 4, _INK, 2)
        svg.text(w - right + 32, ly, "target", size=11)
    return svg.render()


def waterfall(start: tuple[str, float], steps: Sequence[tuple[str, float]], end: tuple[str, float], *,
              unit: str = "", label: str = "waterfall") -> str:
    """A start bar, the signed contribution of each step floating from the running total, and
    the end bar."""
    items = [start, *steps, end]
    w, h = 760, 280
    left, right, top, bottom = 70, 20, 16, 40
    svg = _Svg(w, h, label)
    running = start[1]
    spans = [(0.0, start[1])]
    for _, v in steps:
        spans.append((running, running + v))
        running += v
    spans.append((0.0, end[1]))
    lo = min([min(a, b) for a, b in spans] + [0.0])
    hi = max([max(a, b) for a, b in spans] + [1e-9]) * 1.08
    sy = lambda v: h - bottom - (v - lo) / (hi - lo) * (h - top - bottom)  # noqa: E731
    _y_axis(svg, left, w - right, top, h - bottom, lo, hi, label=unit)
    slot = (w - left - right) / len(items)
    for i, ((name, v), (a, b)) in enumerate(zip(items, spans)):
        x = left + i * slot + slot * 0.2
        total = i in (0, len(items) - 1)
        colour = PALETTE[0] if total else (_GOOD if v >= 0 else _BAD)
        shown = f"{v:,.0f}" if total else f"{v:+,.0f}"
        svg.rect(x, sy(max(a, b)), slot * 0.6, abs(sy(a) - sy(b)), colour, f"{name}: {shown} {unit}".strip())
        svg.text(x + slot * 0.3, sy(max(a, b)) - 4, shown, anchor="middle", size=11)
        svg.text(x + slot * 0.3, h - bottom + 16, name, anchor="middle", size=11, weight="600")
        if i < len(items) - 1:
            svg.line(x + slot * 0.6, sy(b), x + slot, sy(b), _MUTED, 1, "2 2")
    return svg.render()


def sankey(ladder: Sequence[str], outcomes: Sequence[str], flows: dict[tuple[str, str], int], *,
           sizes: dict[str, int] | None = None, label: str = "stage flow") -> str:
    """Stage flow: ladder stages left to right, outcomes (lost, disqualified) in a last column,
    forward moves as bands between columns, backward moves (recycling) as arcs above."""
    w, h = 900, 420
    node_w = 14
    top, bottom = 70, 30
    cols = list(ladder) + (["(outcomes)"] if outcomes else [])
    col_of = {s: i for i, s in enumerate(ladder)}
    for o in outcomes:
        col_of[o] = len(ladder)
    xs = [20 + i * (w - 140 - node_w) / max(len(cols) - 1, 1) for i in range(len(cols))]
    into: dict[str, int] = {}
    out: dict[str, int] = {}
    for (a, b), n in flows.items():
        if a in col_of and b in col_of and n > 0:
            out[a] = out.get(a, 0) + n
            into[b] = into.get(b, 0) + n
    size = {s: max(into.get(s, 0), out.get(s, 0), (sizes or {}).get(s, 0)) for s in col_of}
    column_total: dict[int, int] = {}
    for s, c in col_of.items():
        column_total[c] = column_total.get(c, 0) + size[s]
    gap = 18
    avail = h - top - bottom - gap * max(len(outcomes), 1)
    scale = avail / max(max(column_total.values(), default=1), 1)
    svg = _Svg(w, h, label)
    ypos: dict[str, float] = {}
    col_y = {c: float(top) for c in range(len(cols))}
    for s in [*ladder, *outcomes]:
        c = col_of[s]
        ypos[s] = col_y[c]
        col_y[c] += size[s] * scale + gap
    out_off = {s: 0.0 for s in col_of}
    in_off = {s: 0.0 for s in col_of}
    forward = sorted(((a, b, n) for (a, b), n in flows.items() if n > 0 and a in col_of and b in col_of
                      and col_of[b] > col_of[a]), key=lambda t: (ypos[t[1]], col_of[t[0]]))
    backward = [(a, b, n) for (a, b), n in flows.items() if n > 0 and a in col_of and b in col_of
                and col_of[b] <= col_of[a] and a != b]
    colour_of = {s: PALETTE[i % 6] for i, s in enumerate(ladder)}
    for o in outcomes:
        colour_of[o] = "#999999"
    for a, b, n in forward:
        th = n * scale
        x0, x1 = xs[col_of[a]] + node_w, xs[col_of[b]]
        y0 = ypos[a] + out_off[a] + th / 2
        y1 = ypos[b] + in_off[b] + th / 2
        out_off[a] += th
        in_off[b] += th
        xm = (x0 + x1) / 2
        colour = "#999999" if b in outcomes else colour_of[a]
        svg.path(f"M{x0:.1f},{y0:.1f} C{xm:.1f},{y0:.1f} {xm:.1f},{y1:.1f} {x1:.1f},{y1:.1f}", stroke=colour,
                 width=max(th, 0.8), opacity=0, title=f"{a} -> {b}: {n:,}")
    for k, (a, b, n) in enumerate(sorted(backward, key=lambda t: -t[2])):
        xa, xb = xs[col_of[a]] + node_w / 2, xs[col_of[b]] + node_w / 2
        lift = 6 + 8 * k
        th = max(n * scale, 1.0)
        svg.path(f"M{xa:.1f},{top:.1f} C{xa:.1f},{top - lift - 20:.1f} {xb:.1f},{top - lift - 20:.1f} "
                 f"{xb:.1f},{top:.1f}", stroke=PALETTE[5], width=min(th, 14), title=f"recycled {a} -> {b}: {n:,}")
    for s in [*ladder, *outcomes]:
        c = col_of[s]
        hgt = max(size[s] * scale, 1.5)
        svg.rect(xs[c], ypos[s], node_w, hgt, colour_of[s], f"{s}: {size[s]:,}")
        svg.text(xs[c] + node_w + 4, ypos[s] + min(hgt / 2, 12) + 4, f"{s} {size[s]:,}", size=11, weight="600")
    if backward:
        text = "recycled: " + ", ".join(f"{a} → {b} {n:,}" for a, b, n in sorted(backward, key=lambda t: -t[2]))
        svg.text(20, h - 4, text, size=11, fill=PALETTE[5])
    return svg.render().replace('fill-opacity="0"', 'fill-opacity="0" stroke-opacity="0.35"')
