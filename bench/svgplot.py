"""Inline SVG charts for the report (stdlib only): grouped bars and lines.

Each chart is one self-contained ``<svg>`` element (no script, no external font or
stylesheet) with a title and a subtitle line; the report puts the placement in the
subtitle so it travels with the image.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
FONT = 'font-family="Helvetica, Arial, sans-serif"'


def fmt_number(value: float) -> str:
    """Short axis label: 950, 1.5k, 12k, 2.5M, 0.25."""
    magnitude = abs(value)
    if magnitude >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if magnitude >= 1000:
        return f"{value / 1000:.3g}k"
    if magnitude >= 1 or value == 0:
        return f"{value:.3g}"
    return f"{value:.2g}"


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 and round steps up to at least ``top``."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top - 1e-12:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    """1-2-5 steps covering [low, high] (both > 0)."""
    start = math.floor(math.log10(low))
    ticks = [m * 10**e for e in range(start, math.ceil(math.log10(high)) + 1) for m in (1, 2, 5)]
    below = [t for t in ticks if t <= low]
    above = [t for t in ticks if t >= high]
    first = below[-1] if below else ticks[0]
    last = above[0] if above else ticks[-1]
    return [t for t in ticks if first <= t <= last]


class _Frame:
    """Plot area geometry and the y scale (linear from 0, or log)."""

    def __init__(
        self, size: tuple[int, int, int], values: Sequence[float], log: bool, legend_rows: int
    ) -> None:
        self.width, self.height, subtitle_lines = size
        self.left, self.right, self.top = 70, 20, 44 + 14 * subtitle_lines
        self.bottom = 70 + 18 * legend_rows
        self.log = log
        positive = [v for v in values if v is not None and v > 0]
        if log:
            low, high = (min(positive), max(positive)) if positive else (1.0, 10.0)
            # Half the smallest value as the floor: the smallest bar stays visible.
            self.ticks = log_ticks(low / 2, high * 1.1 if high > low else low * 10)
        else:
            self.ticks = nice_ticks(max(positive, default=1.0) * 1.05)  # headroom above the tallest
        self.lo, self.hi = self.ticks[0], self.ticks[-1]

    @property
    def plot_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_bottom(self) -> float:
        return self.height - self.bottom

    def y(self, value: float) -> float:
        """Pixel row of a value (clamped to the axis)."""
        span = self.plot_bottom - self.top
        if self.log:
            value = max(value, self.lo)
            share = (math.log10(value) - math.log10(self.lo)) / (
                math.log10(self.hi) - math.log10(self.lo) or 1
            )
        else:
            share = (value - self.lo) / ((self.hi - self.lo) or 1)
        return self.plot_bottom - min(max(share, 0.0), 1.0) * span


def _subtitle_lines(subtitle: str, width: int) -> list[str]:
    """The subtitle wrapped to the chart width (about 6 px per character at 11 px)."""
    return textwrap.wrap(subtitle, width=max(int((width - 20) / 6.0), 20)) or [""]


def _header(width: int, height: int, title: str, subtitle: str) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="10" y="20" {FONT} font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for i, line in enumerate(_subtitle_lines(subtitle, width)):
        parts.append(
            f'<text x="10" y="{38 + 14 * i}" {FONT} font-size="11" fill="#444444">{escape(line)}</text>'
        )
    return parts


def _y_axis(frame: _Frame, label: str) -> list[str]:
    parts = []
    for tick in frame.ticks:
        y = frame.y(tick)
        parts.append(
            f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.width - frame.right}" y2="{y:.1f}" '
            'stroke="#e5e5e5"/>'
            f'<text x="{frame.left - 6}" y="{y + 4:.1f}" {FONT} font-size="10" text-anchor="end">'
            f"{escape(fmt_number(tick))}</text>"
        )
    mid = (frame.top + frame.plot_bottom) / 2
    parts.append(
        f'<text x="14" y="{mid:.1f}" {FONT} font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 14 {mid:.1f})">{escape(label + (" (log scale)" if frame.log else ""))}</text>'
    )
    parts.append(
        f'<line x1="{frame.left}" y1="{frame.top}" x2="{frame.left}" y2="{frame.plot_bottom}" '
        'stroke="#333333"/>'
        f'<line x1="{frame.left}" y1="{frame.plot_bottom}" x2="{frame.width - frame.right}" '
        f'y2="{frame.plot_bottom}" stroke="#333333"/>'
    )
    return parts


def _legend(frame: _Frame, names: Sequence[str], dashed: Sequence[str] = ()) -> list[str]:
    parts, x, row = [], float(frame.left), 0
    base = frame.plot_bottom + 44
    for i, name in enumerate(names):
        width = 24 + 6.5 * len(name)
        if x + width > frame.width - 10 and x > frame.left:
            x, row = float(frame.left), row + 1
        y = base + 18 * row
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="12" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x + 16:.1f}" y="{y:.1f}" {FONT} font-size="11">{escape(name)}</text>')
        x += width
    for j, name in enumerate(dashed):
        width = 34 + 6.5 * len(name)
        if x + width > frame.width - 10 and x > frame.left:
            x, row = float(frame.left), row + 1
        y = base + 18 * row
        parts.append(
            f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 22:.1f}" y2="{y - 4:.1f}" '
            f'stroke="{_ref_color(j)}" stroke-width="2" stroke-dasharray="5,3"/>'
        )
        parts.append(f'<text x="{x + 26:.1f}" y="{y:.1f}" {FONT} font-size="11">{escape(name)}</text>')
        x += width
    return parts


def _ref_color(index: int) -> str:
    return ("#000000", "#b00000", "#555555", "#006400")[index % 4]


def _legend_rows(names: Sequence[str], width: int) -> int:
    x, rows = 70.0, 1
    for name in names:
        step = 34 + 6.5 * len(name)
        if x + step > width - 10 and x > 70:
            x, rows = 70.0, rows + 1
        x += step
    return rows


def _ref_lines(frame: _Frame, refs: Sequence[tuple[float, str]]) -> list[str]:
    parts = []
    for j, (value, _label) in enumerate(refs):
        y = frame.y(value)
        parts.append(
            f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.width - frame.right}" y2="{y:.1f}" '
            f'stroke="{_ref_color(j)}" stroke-width="2" stroke-dasharray="5,3"/>'
        )
    return parts


def bar_chart(
    title: str,
    subtitle: str,
    groups: Sequence[str],
    series: Sequence[str],
    values: Mapping[tuple[str, str], float | None],
    *,
    y_label: str,
    log: bool = False,
    refs: Sequence[tuple[float, str]] = (),
    width: int = 860,
    height: int = 360,
) -> str:
    """Grouped bars: one group per ``groups`` entry, one bar per ``series`` in it.

    ``values[(group, series)]``; a missing value leaves a gap. ``refs`` draws dashed
    horizontal reference lines (value, legend label), e.g. a target ratio.
    """
    legend = [*series, *[label for _, label in refs]]
    lines = len(_subtitle_lines(subtitle, width))
    height += 14 * (lines - 1)
    frame = _Frame(
        (width, height, lines), [*values.values(), *[v for v, _ in refs]], log, _legend_rows(legend, width)
    )
    parts = _header(width, height, title, subtitle) + _y_axis(frame, y_label)
    slot = frame.plot_width / max(len(groups), 1)
    bar = max(min(slot * 0.8 / max(len(series), 1), 40.0), 1.5)
    for g, group in enumerate(groups):
        start = frame.left + g * slot + (slot - bar * len(series)) / 2
        for s, name in enumerate(series):
            value = values.get((group, name))
            if value is None:
                continue
            y = frame.y(value) if value > 0 or not log else frame.plot_bottom
            x = start + s * bar
            tip = escape(f"{group} {name}: {value:,.4g}")
            box = f'x="{x:.1f}" y="{y:.1f}" width="{bar * 0.92:.1f}" height="{frame.plot_bottom - y:.1f}"'
            parts.append(f'<rect {box} fill="{PALETTE[s % len(PALETTE)]}"><title>{tip}</title></rect>')
        cx = frame.left + (g + 0.5) * slot
        parts.append(
            f'<text x="{cx:.1f}" y="{frame.plot_bottom + 16:.1f}" {FONT} font-size="10" text-anchor="middle">'
            f"{escape(_clip(group, slot))}</text>"
        )
    parts += _ref_lines(frame, refs)
    parts += _legend(frame, series, [label for _, label in refs])
    parts.append("</svg>")
    return "\n".join(parts)


def line_chart(
    title: str,
    subtitle: str,
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    y_label: str,
    x_label: str,
    log: bool = False,
    refs: Sequence[tuple[float, str]] = (),
    width: int = 560,
    height: int = 360,
) -> str:
    """Lines over categorical x positions (e.g. concurrency 1x1, 2x1, 2x2, 2x4).

    ``series[name][i]`` is the value at ``x_labels[i]`` (None: no point). ``refs``: dashed
    horizontal lines (e.g. the redis-benchmark ceiling).
    """
    names = list(series)
    legend = [*names, *[label for _, label in refs]]
    all_values = [v for values in series.values() for v in values if v is not None]
    lines = len(_subtitle_lines(subtitle, width))
    height += 14 * (lines - 1)
    frame = _Frame(
        (width, height, lines), [*all_values, *[v for v, _ in refs]], log, _legend_rows(legend, width)
    )
    parts = _header(width, height, title, subtitle) + _y_axis(frame, y_label)
    step = frame.plot_width / max(len(x_labels), 1)

    def x_at(i: int) -> float:
        return frame.left + (i + 0.5) * step

    for i, label in enumerate(x_labels):
        parts.append(
            f'<text x="{x_at(i):.1f}" y="{frame.plot_bottom + 16:.1f}" {FONT} font-size="10" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append(
        f'<text x="{frame.left + frame.plot_width / 2:.1f}" y="{frame.plot_bottom + 32:.1f}" {FONT} '
        f'font-size="11" text-anchor="middle">{escape(x_label)}</text>'
    )
    parts += _ref_lines(frame, refs)
    for s, name in enumerate(names):
        color = PALETTE[s % len(PALETTE)]
        points = [(x_at(i), frame.y(v), v) for i, v in enumerate(series[name]) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y, v in points:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}">'
                f"<title>{escape(f'{name}: {v:,.4g}')}</title></circle>"
            )
    parts += _legend(frame, names, [label for _, label in refs])
    parts.append("</svg>")
    return "\n".join(parts)


def _clip(text: str, pixels: float) -> str:
    room = max(int(pixels / 5.5), 4)
    return text if len(text) <= room else text[: room - 1] + "…"
