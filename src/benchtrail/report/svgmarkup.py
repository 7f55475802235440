"""Turn matplotlib's SVG into a small, themable element to inline in a page.

matplotlib draws with placeholder colours; here they become ``currentColor`` (text and
axes: the page's text colour) and CSS variables (grid, series, better/worse), so the
stylesheet's light and dark themes colour the same SVG. Also: the XML prolog and the
metadata go, coordinates are rounded to 0.1 pt, ids are prefixed with the chart's anchor
(many charts share a page) and unused ones dropped, the size follows the page's width,
and the points we add on top carry an SVG ``<title>`` (the tooltip) and a link.
``axis_copy`` shows a chart's y axis a second time, for the stylesheet to pin on a phone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape

__all__ = ["FOREGROUND", "GRID", "MUTED", "SLOTS", "axis_copy", "finish_svg", "overlay_link", "slot_colour",
           "verdict_colour"]

FOREGROUND = "#0a0b0c"
GRID = "#0a0b0d"
MUTED = "#0a0b0e"
_WORSE, _BETTER = "#0a0d01", "#0a0d02"
#: colour slots of the series: 0 is the runs under test on the MR page, 1.. environments
SLOTS = 9

_CSS = {FOREGROUND: "currentColor", GRID: "var(--grid)", MUTED: "var(--muted)", _WORSE: "var(--worse)",
        _BETTER: "var(--better)", **{f"#0a0c{slot:02x}": f"var(--s{slot})" for slot in range(SLOTS)}}
_COLOUR = re.compile("|".join(re.escape(c) for c in _CSS))
_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_SIZE = re.compile(r'<svg([^>]*?) width="[^"]*" height="[^"]*"')
_ATTRIBUTE = re.compile(r'="([^"]*)"')
_NUMBER = re.compile(r"-?\d+\.\d+")
_ID = re.compile(r'\sid="([^"]+)"')
_REFERENCE = re.compile(r'url\(#([^)]+)\)|href="#([^"]+)"')
_FONT = re.compile(r"; font-family: [^;\"]*")
#: matplotlib's id of the group holding the whole figure: kept, for ``axis_copy``
_FIGURE = "figure_1"


def slot_colour(slot: int) -> str:
    """The placeholder colour of series slot ``slot`` (0 to ``SLOTS - 1``)."""
    return f"#0a0c{slot % SLOTS:02x}"


def verdict_colour(worse: bool) -> str:
    return _WORSE if worse else _BETTER


def _round(match: re.Match[str]) -> str:
    text = f"{float(match.group()):.1f}"
    return text[:-2] if text.endswith(".0") else text


def _attribute(match: re.Match[str]) -> str:
    return '="' + " ".join(_NUMBER.sub(_round, match.group(1)).split()) + '"'


def finish_svg(svg: str, prefix: str, overlay: list[str]) -> str:
    """matplotlib's SVG text as a themable inline element with ``overlay`` on top."""
    svg = _PROLOG.sub("", svg, count=1)
    svg = _METADATA.sub("", svg, count=1)
    svg = _SIZE.sub(r'<svg\1 class="chart" preserveAspectRatio="xMidYMid meet"', svg, count=1)
    svg = _COLOUR.sub(lambda m: _CSS[m.group()], svg)
    svg = _ATTRIBUTE.sub(_attribute, svg)
    svg = _FONT.sub("", svg)  # the page's font, not matplotlib's
    used = {a or b for a, b in _REFERENCE.findall(svg)} | {_FIGURE}

    def rename(match: re.Match[str]) -> str:
        name = match.group(1)
        return f' id="{prefix}-{name}"' if name in used else ""

    svg = _ID.sub(rename, svg)
    svg = _REFERENCE.sub(lambda m: f"url(#{prefix}-{m.group(1)})" if m.group(1) else f'href="#{prefix}-{m.group(2)}"',
                         svg)
    svg = re.sub(r">\s+<", "><", svg)
    head, _, _ = svg.rpartition("</svg>")
    return head + "".join(overlay) + "</svg>"


def axis_copy(prefix: str, chart: tuple[float, float], axis: tuple[float, float]) -> str:
    """The y axis of the chart ``prefix`` (``chart``: its width and height) shown again from
    its own elements (``<use>``, about 250 bytes), for the stylesheet to pin to the left of
    a chart that scrolls sideways on a phone. ``axis`` is the width and height of the top
    left part to show; the copy is as tall as the chart (and opaque, from the stylesheet),
    so the x tick labels that scroll under it are hidden. Its width is a percentage of the
    chart's, so it lines up however wide the chart is shown."""
    (chart_width, chart_height), (width, height) = chart, axis
    return (f'<svg class="chart-axis" viewBox="0 0 {_number(width)} {_number(chart_height)}" '
            f'width="{100 * width / chart_width:.3f}%" aria-hidden="true" xmlns="http://www.w3.org/2000/svg">'
            f'<svg width="{_number(width)}" height="{_number(height)}"><use href="#{prefix}-{_FIGURE}"/></svg></svg>')


def overlay_link(url: str | None, title: str, shape: str, attributes: Mapping[str, object]) -> str:
    """An SVG ``shape`` with a ``<title>`` tooltip, inside a link to ``url`` when there
    is one. Numbers are rounded to 0.1; everything else is escaped here."""
    attrs = " ".join(f'{name}="{_number(value)}"' for name, value in attributes.items())
    inner = f"<{shape} {attrs}><title>{escape(title, quote=False)}</title></{shape}>"
    if url is None:
        return inner
    return f'<a href="{escape(url, quote=True)}" target="_top">{inner}</a>'


def _number(value: object) -> str:
    if isinstance(value, float):
        text = f"{value:.1f}"
        return text[:-2] if text.endswith(".0") else text
    return escape(str(value), quote=True)
