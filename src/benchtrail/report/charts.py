"""Draw one history chart with matplotlib (Agg) as SVG text for inlining in a page.

A ``ChartJob`` is everything a chart shows and nothing else, so its hash keys the cache
(``chartcache``). x is the commit order (one position per commit), each line is one
environment: its headline (median of the commit's run values), a band for the spread of
those runs (min–max), and its change points (``detect_change_points`` on the per-commit
medians, over the whole history) marked at the commit that starts the new level.

The SVG of a chart is followed by a copy of its y axis (``svgmarkup.axis_copy``): on a
phone the chart scrolls sideways to stay readable, and the stylesheet pins the copy to
the left, so the values stay in sight at any scroll position.

Colours are placeholders that ``svgmarkup`` turns into ``currentColor`` and CSS
variables, so one SVG reads on the light and the dark theme alike (half the bytes of two
variants, and the theme follows the reader's setting without JavaScript).
"""

from __future__ import annotations

import io
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchtrail.compare.render import format_change, format_quantity
from benchtrail.report.svgmarkup import (
    FOREGROUND,
    GRID,
    MUTED,
    axis_copy,
    finish_svg,
    overlay_link,
    slot_colour,
    verdict_colour,
)

__all__ = ["DRAWING_VERSION", "Change", "ChartJob", "ChartOutput", "Line", "Tick", "draw_chart", "render_job"]

#: part of every cache key: change it whenever a chart would come out differently
DRAWING_VERSION = "2"
WIDTH_PT, HEIGHT_PT = 760.0, 220.0
_MAX_TICKS = 8
#: the y axis spans at least this fraction of the level: 1 % of noise must not fill the chart
_MIN_SPAN = 0.2


@dataclass(frozen=True)
class Tick:
    """What one x position is: its commit, for the axis and the tooltips."""

    short: str  # a short commit id, or another short name
    date: str  # YYYY-MM-DD, or ""
    title: str  # the commit title, shortened ("" when unknown)
    url: str | None  # where a click on its points goes


@dataclass(frozen=True)
class Line:
    """One series: the run values at each of its x positions."""

    name: str
    slot: int  # colour slot: 1..8 for environments, 0 for the runs under test
    xs: tuple[int, ...]
    runs: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class ChartJob:
    anchor: str  # the chart's HTML id; SVG ids inside are prefixed with it
    unit: str
    direction: str  # "lower" or "higher" is better
    ticks: tuple[Tick, ...]
    lines: tuple[Line, ...]
    #: how many of the last x positions the default view shows
    window: int
    find_changes: bool = True
    #: a level drawn as a dashed line (the MR page: the baseline)
    reference: float | None = None


@dataclass(frozen=True)
class Change:
    """A change point of one line: ``index`` into its ``xs``, the levels around it."""

    index: int
    before: float
    after: float
    change: float


@dataclass(frozen=True)
class ChartOutput:
    #: the last ``window`` positions, with a tooltip and a link on every point
    recent: str
    #: the whole history, when it is longer than the window (lines only: it can be long)
    full: str | None
    #: per line, its change points
    changes: tuple[tuple[Change, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {"recent": self.recent, "full": self.full,
                "changes": [[[c.index, c.before, c.after, c.change] for c in line] for line in self.changes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChartOutput:
        return cls(data["recent"], data["full"], tuple(tuple(Change(*c) for c in line) for line in data["changes"]))


def _changes(line: Line) -> tuple[Change, ...]:
    from benchtrail.compare.changepoints import describe_change_points

    medians = [statistics.median(runs) for runs in line.runs]
    if not medians or min(medians) <= 0:  # a relative level means nothing there
        return ()
    return tuple(Change(c.index, c.before, c.after, c.change) for c in describe_change_points(medians))


#: text as <text> (the page's font, a tenth of the bytes of glyph paths), fixed ids, no
#: mathtext: a unit or a name with "$" in it is shown as written
_STYLE = {
    "svg.fonttype": "none", "svg.hashsalt": "benchtrail", "text.parse_math": False,
    "font.size": 9.5, "axes.edgecolor": FOREGROUND, "axes.labelcolor": FOREGROUND,
    "xtick.color": FOREGROUND, "ytick.color": FOREGROUND, "text.color": FOREGROUND,
    "axes.linewidth": 0.6, "xtick.major.width": 0.6, "ytick.major.width": 0.6,
}


_PLACE = (0.085, 0.165, 0.87, 0.735)
#: the axes' place without change point labels above them
_PLACE_TALL = (0.085, 0.165, 0.87, 0.8)


def _new_figure() -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_PT / 72, HEIGHT_PT / 72), dpi=72)
    figure.patch.set_alpha(0)
    axes = figure.add_axes(_PLACE)
    axes.patch.set_alpha(0)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.ticklabel_format(axis="y", style="plain", useOffset=False)
    axes.grid(True, axis="y", color=GRID, linewidth=0.6)
    axes.set_axisbelow(True)
    return figure, axes


#: this process's figure, drawn again for each chart (see ``_figure``)
_kept: list[Any] = []


def _figure(fresh: bool) -> Any:
    """A figure and its axes, empty. Making them (axes, spines, ticks) costs about as much
    as drawing a chart, so a process keeps one and only takes the last chart's data off:
    the SVG comes out byte for byte the same as from a new figure. ``fresh`` asks for a
    new one, for a chart whose y limits matplotlib must find itself."""
    if fresh:
        return _new_figure()
    if not _kept:
        _kept.extend(_new_figure())
    figure, axes = _kept
    for artist in (*axes.lines, *axes.collections, *axes.texts, *axes.patches, *axes.images):
        artist.remove()
    axes.set_position(_PLACE)
    return figure, axes


def _ylimits(lows: Sequence[float], highs: Sequence[float], level: float) -> tuple[float, float]:
    low, high = min(lows), max(highs)
    span = max(high - low, abs(level) * _MIN_SPAN, 1e-12)
    middle = (low + high) / 2
    bottom, top = middle - span * 0.55, middle + span * 0.55
    if low >= 0 > bottom:
        bottom, top = 0.0, max(top, span * 1.1)
    return bottom, top


def _ticks(start: int, stop: int) -> list[int]:
    count = stop - start
    if count <= _MAX_TICKS:
        return list(range(start, stop))
    step = -(-count // _MAX_TICKS)
    return list(range(stop - 1, start - 1, -step))[::-1]


def _tooltip(job: ChartJob, line: Line, x: int, runs: Sequence[float], level: float) -> str:
    tick = job.ticks[x]
    head = " · ".join(part for part in (tick.short, tick.date) if part)
    spread = f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
    if len(runs) > 1:
        spread += f", {format_quantity(min(runs), job.unit)} to {format_quantity(max(runs), job.unit)}"
    return "\n".join(part for part in (head, tick.title[:80],
                                       f"{line.name}: {format_quantity(level, job.unit)} ({spread})") if part)


def draw_chart(job: ChartJob, start: int, *, hover: bool, changes: Sequence[Sequence[Change]]) -> str:
    """The chart of x positions ``start`` onwards as inline-ready SVG text, its y axis copy
    after it; ``hover`` adds a tooltip and a link to every point (left out of long
    whole-history charts)."""
    import matplotlib

    matplotlib.use("Agg")
    with matplotlib.rc_context(_STYLE):
        return _draw(job, start, hover, changes)


def _draw(job: ChartJob, start: int, hover: bool, changes: Sequence[Sequence[Change]]) -> str:
    # a chart with no point in view leaves its y limits to matplotlib: a new figure, as before
    figure, axes = _figure(fresh=not any(x >= start for line in job.lines for x in line.xs))
    stop = len(job.ticks)
    drawn: list[tuple[Line, int, float, Sequence[float]]] = []
    lows, highs, levels = [], [], []
    for line in job.lines:
        points = [(x, runs) for x, runs in zip(line.xs, line.runs) if x >= start]
        if not points:
            continue
        xs = [x for x, _ in points]
        medians = [statistics.median(runs) for _, runs in points]
        low = [min(runs) for _, runs in points]
        high = [max(runs) for _, runs in points]
        colour = slot_colour(line.slot)
        if any(top > bottom for bottom, top in zip(low, high)):
            axes.fill_between(xs, low, high, color=colour, alpha=0.25, linewidth=0)
        if len(xs) > 1:
            axes.plot(xs, medians, color=colour, linewidth=1.4)
        else:
            axes.vlines(xs, low, high, color=colour, linewidth=2)
            axes.plot(xs, medians, color=colour, marker="o", markersize=5, linestyle="none")
        lows += low
        highs += high
        levels += medians
        drawn += [(line, x, m, runs) for x, m, (_, runs) in zip(xs, medians, points)]
    if job.reference is not None:
        axes.axhline(job.reference, color=MUTED, linewidth=1, linestyle=(0, (4, 3)))
        lows.append(job.reference)
        highs.append(job.reference)
    if levels:
        axes.set_ylim(*_ylimits(lows, highs, statistics.median(levels)))
    axes.set_xlim(start - 0.5, stop - 0.5)
    positions = _ticks(start, stop)
    axes.set_xticks(positions, [f"{job.ticks[x].short}\n{job.ticks[x].date}".strip() for x in positions],
                    fontsize=8.5)
    arrow = "↓" if job.direction == "lower" else "↑"
    axes.set_ylabel(f"{job.unit or 'value'} · {arrow} {job.direction} is better", fontsize=9)
    marks = _mark_changes(axes, job, start, changes)
    if not marks:  # no change point labels above the axes: give the room to the data
        axes.set_position(_PLACE_TALL)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    overlay = _change_links(figure, axes, job, marks)
    if hover:
        overlay += _hover_points(figure, axes, job, drawn)
    prefix = job.anchor + ("-r" if hover else "-a")
    axis = axis_copy(prefix, (WIDTH_PT, HEIGHT_PT), _axis_box(figure, axes))
    return finish_svg(buffer.getvalue(), prefix, overlay) + axis


def _axis_box(figure: Any, axes: Any) -> tuple[float, float]:
    """The part of the figure left of the plot (with its spine) and above the x tick labels:
    the y axis, its label and tick values, none of the data."""
    return axes.bbox.x0 + 1, figure.bbox.height - axes.bbox.y0 + 6


_Mark = tuple[Line, int, Change, bool]  # a change point in view: its line, x, change, and worse or not


def _mark_changes(axes: Any, job: ChartJob, start: int, changes: Sequence[Sequence[Change]]) -> list[_Mark]:
    """Draw the change points from x position ``start`` on, named by their commits."""
    found: list[_Mark] = []
    for line, line_changes in zip(job.lines, changes):
        for change in line_changes:
            x = line.xs[change.index]
            if x < start:
                continue
            worse = change.change > 0 if job.direction == "lower" else change.change < 0
            colour = verdict_colour(worse)
            axes.axvline(x - 0.5, color=colour, linewidth=1.1, linestyle=(0, (3, 2)))
            axes.annotate(f"{job.ticks[x].short} {format_change(change.change)}", (x - 0.5, 1),
                          xycoords=("data", "axes fraction"), xytext=(2, 3 + 10 * (len(found) % 2)),
                          textcoords="offset points", fontsize=8.5, color=colour, annotation_clip=False)
            found.append((line, x, change, worse))
    return found


def _change_links(figure: Any, axes: Any, job: ChartJob, marks: Sequence[_Mark]) -> list[str]:
    """A tooltip (and a link to the commit) over each change point's line, once laid out."""
    height = figure.bbox.height
    bottom, top = axes.bbox.y0, axes.bbox.y1
    made = []
    for line, x, change, worse in marks:
        left = axes.transData.transform((x - 0.5, 0))[0]
        tick = job.ticks[x]
        title = (f"change point at {tick.short} {tick.date}".rstrip() + f" ({line.name}): "
                 f"{format_quantity(change.before, job.unit)} → {format_quantity(change.after, job.unit)} "
                 f"({format_change(change.change)}, {'worse' if worse else 'better'})"
                 + (f"\n{tick.title[:80]}" if tick.title else ""))
        made.append(overlay_link(tick.url, title, "rect", {
            "x": left - 4, "y": height - top - 22, "width": 8, "height": top - bottom + 22, "class": "cp"}))
    return made


def _hover_points(figure: Any, axes: Any, job: ChartJob,
                  drawn: Sequence[tuple[Line, int, float, Sequence[float]]]) -> list[str]:
    if not drawn:
        return []
    height = figure.bbox.height
    where = axes.transData.transform([(x, level) for _, x, level, _ in drawn])
    return [overlay_link(job.ticks[x].url, _tooltip(job, line, x, runs, level), "circle",
                         {"cx": px, "cy": height - py, "r": 2, "class": f"pt s{line.slot}"})
            for (line, x, level, runs), (px, py) in zip(drawn, where)]


def render_job(job: ChartJob) -> ChartOutput:
    """Find the change points and draw both views (the whole history only when it is
    longer than the window); what a worker process runs."""
    changes = tuple(_changes(line) if job.find_changes else () for line in job.lines)
    count = len(job.ticks)
    start = max(0, count - job.window)
    recent = draw_chart(job, start, hover=True, changes=changes)
    full = draw_chart(job, 0, hover=False, changes=changes) if start > 0 else None
    return ChartOutput(recent, full, changes)
