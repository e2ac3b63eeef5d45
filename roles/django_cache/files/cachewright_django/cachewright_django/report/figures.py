"""The report's figures, drawn by matplotlib (Agg canvas): grouped bars and lines.

Every figure is saved twice next to the report, ``<name>.png`` and ``<name>.svg``, and its
SVG is inlined in report.html. The SVG writes text as text (``svg.fonttype: none``), so the
title and the subtitle with the placement stay searchable, and has no date in it: the same
run gives the same files. In the inlined copy each ``<use xlink:href>`` (matplotlib's
repeated marks: ticks, points) is replaced by the shape it names, so the page's SVG needs
no xlink namespace and holds no reference at all.
"""

from __future__ import annotations

import copy
import re
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

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
REF_COLORS = ("#000000", "#b00000", "#555555", "#006400")
DPI = 100
# What savefig writes: text as text, stable element ids, no creation date or tool name.
SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "cachewright", "font.family": "DejaVu Sans"}
SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
PNG_METADATA = {"Software": None}
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
ET.register_namespace("", SVG_NS)


@dataclass
class SavedFigure:
    """A figure written next to the report: its file stem, caption and SVG to inline."""

    name: str
    caption: str
    svg: str


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


def _clip(text: str, room: int) -> str:
    return text if len(text) <= room else text[: room - 1] + "…"


def _frame(title: str, subtitle: str, width: int, height: int) -> tuple[Figure, Axes]:
    """A figure on the Agg canvas with its title, the wrapped subtitle and the axis style."""
    lines = textwrap.wrap(subtitle, width=max(int((width - 20) / 6.0), 20)) or [""]
    fig = Figure(figsize=(width / DPI, (height + 14 * (len(lines) - 1)) / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title + "\n" + "\n".join(lines), loc="left", fontsize=9, color="#222222")
    ax.grid(axis="y", color="#e5e5e5")
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _y_axis(ax: Axes, label: str, log: bool, values: Sequence[float]) -> None:
    positive = [v for v in values if v > 0]
    if log:
        ax.set_yscale("log")
        if positive:  # half the smallest value as the floor: the smallest bar stays visible
            ax.set_ylim(min(positive) / 2, max(positive) * 1.5)
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(0, max(positive, default=1.0) * 1.1)  # headroom above the tallest
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_number(v)))
    ax.set_ylabel(label + (" (log scale)" if log else ""), fontsize=9)


def _refs(ax: Axes, refs: Sequence[tuple[float, str]]) -> None:
    for j, (value, label) in enumerate(refs):
        ax.axhline(value, color=REF_COLORS[j % len(REF_COLORS)], linewidth=1.5, linestyle="--", label=label)


def _legend(ax: Axes, entries: int) -> None:
    if entries:
        ax.legend(
            loc="upper left", bbox_to_anchor=(0, -0.14), ncol=min(entries, 4), frameon=False, fontsize=8
        )


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
    height: int = 400,
) -> Figure:
    """Grouped bars: one group per ``groups`` entry, one bar per ``series`` in it.

    ``values[(group, series)]``; a missing value leaves a gap. ``refs`` draws dashed
    horizontal reference lines (value, legend label), e.g. a target ratio.
    """
    fig, ax = _frame(title, subtitle, width, height)
    slot = 0.8 / max(len(series), 1)
    for s, name in enumerate(series):
        points = [
            (g + (s - (len(series) - 1) / 2) * slot, value)
            for g, group in enumerate(groups)
            if (value := values.get((group, name))) is not None
        ]
        ax.bar(
            [x for x, _unused in points],
            [v for _unused, v in points],
            width=slot * 0.92,
            color=PALETTE[s % len(PALETTE)],
            label=name,
        )
    _refs(ax, refs)
    room = max(int(width / max(len(groups), 1) / 6), 4)
    ax.set_xticks(range(len(groups)), [_clip(g, room) for g in groups], fontsize=8)
    _y_axis(ax, y_label, log, [v for v in values.values() if v is not None] + [v for v, _unused in refs])
    _legend(ax, len(series) + len(refs))
    return fig


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
    height: int = 400,
) -> Figure:
    """Lines over categorical x positions (e.g. concurrency 1x1, 2x1, 2x2, 2x4).

    ``series[name][i]`` is the value at ``x_labels[i]`` (None: no point). ``refs``: dashed
    horizontal lines (e.g. the redis-benchmark ceiling).
    """
    fig, ax = _frame(title, subtitle, width, height)
    _refs(ax, refs)
    drawn: list[float] = []
    for s, (name, values) in enumerate(series.items()):
        color = PALETTE[s % len(PALETTE)]
        points = [(i, v) for i, v in enumerate(values) if v is not None]
        ax.plot(
            [i for i, _unused in points],
            [v for _unused, v in points],
            color=color,
            linewidth=2,
            marker="o",
            label=name,
        )
        drawn += [v for _unused, v in points]
    ax.set_xticks(range(len(x_labels)), list(x_labels))
    ax.set_xlim(-0.5, len(x_labels) - 0.5)
    ax.set_xlabel(x_label, fontsize=9)
    _y_axis(ax, y_label, log, drawn + [v for v, _unused in refs])
    _legend(ax, len(series) + len(refs))
    return fig


def slug(text: str) -> str:
    """A file-name part from a title: lower case, words joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def save(figures: Sequence[tuple[Figure, str]], out: Path) -> list[SavedFigure]:
    """Write every figure as ``figure-NN-<title>.png`` and ``.svg`` in ``out`` (figures of an
    earlier report there removed first) and return them with the SVG to inline."""
    for old in [*out.glob("figure-*.png"), *out.glob("figure-*.svg")]:
        old.unlink()
    saved = []
    with mpl.rc_context(SVG_RC):
        for number, (fig, caption) in enumerate(figures, 1):
            name = f"figure-{number:02d}-{slug(fig.axes[0].get_title(loc='left').splitlines()[0])}"
            png, svg = out / f"{name}.png", out / f"{name}.svg"
            fig.savefig(png, format="png", dpi=DPI, metadata=PNG_METADATA, bbox_inches="tight")
            fig.savefig(svg, format="svg", metadata=SVG_METADATA, bbox_inches="tight")
            saved.append(SavedFigure(name, caption, inline_svg(svg.read_text("utf-8"))))
    return saved


def inline_svg(document: str) -> str:
    """The ``<svg>`` element of an SVG file for an HTML page: no XML declaration or doctype,
    every ``<use>`` replaced by a group holding a copy of the shape it names."""
    root = ET.fromstring(document.encode("utf-8"))
    shapes = {element.get("id"): element for element in root.iter() if element.get("id")}
    for parent in list(root.iter()):
        for index, child in enumerate(list(parent)):
            if child.tag != f"{{{SVG_NS}}}use":
                continue
            shape = copy.deepcopy(shapes[child.get(XLINK_HREF, "").lstrip("#")])
            shape.attrib.pop("id", None)
            kept = {k: v for k, v in child.attrib.items() if k not in (XLINK_HREF, "x", "y")}
            group = ET.Element(f"{{{SVG_NS}}}g", kept)
            group.set("transform", f"translate({child.get('x', '0')} {child.get('y', '0')})")
            group.append(shape)
            parent[index] = group
    return ET.tostring(root, encoding="unicode")
