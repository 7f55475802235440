"""``report.svgmarkup``: themable colours, prefixed ids, rounded numbers, escaped overlays,
the y axis copy."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from benchtrail.report.svgmarkup import FOREGROUND, GRID, axis_copy, finish_svg, overlay_link, slot_colour

RAW = f"""<?xml version="1.0" encoding="utf-8" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="760pt" height="220pt" viewBox="0 0 760 220"
 xmlns="http://www.w3.org/2000/svg" version="1.1">
 <metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></metadata>
 <defs><clipPath id="p1a2b"><rect x="64.123456" y="20.98765" width="600" height="150"/></clipPath></defs>
 <g id="figure_1"><path d="M 64.123456 184.55 L 627.2 184" clip-path="url(#p1a2b)" style="stroke: {slot_colour(1)}"/>
 <text style="font-size: 9px; font-family: 'DejaVu Sans', sans-serif; fill: {FOREGROUND}">12.5</text>
 <path d="M 0 0" style="stroke: {GRID}"/></g>
</svg>
"""


def test_finished_svg_is_small_themable_and_its_ids_are_its_own() -> None:
    svg = finish_svg(RAW, "chart-r", [overlay_link(None, "a < b", "circle", {"cx": 1.2345, "cy": 2.0, "r": 2})])
    assert svg.startswith("<svg") and "<metadata" not in svg and 'width="760pt"' not in svg
    assert "var(--s1)" in svg and "fill: currentColor" in svg and "var(--grid)" in svg and "DejaVu" not in svg
    assert 'id="chart-r-p1a2b"' in svg and "url(#chart-r-p1a2b)" in svg
    assert '<g id="chart-r-figure_1">' in svg  # kept for the y axis copy
    assert 'd="M 64.1 184.6 L 627.2 184"' in svg and 'x="64.1"' in svg
    assert ">12.5</text>" in svg  # text is not a coordinate
    root = ET.fromstring(svg)
    assert root.get("class") == "chart" and root.get("viewBox") == "0 0 760 220"
    assert svg.endswith('<circle cx="1.2" cy="2" r="2"><title>a &lt; b</title></circle></svg>')


def test_overlay_links_are_escaped() -> None:
    made = overlay_link('https://x.example/a?b=1&c="2"', "</title><script>", "rect", {"class": 'c"d'})
    element = ET.fromstring(f'<svg xmlns="http://www.w3.org/2000/svg">{made}</svg>')[0]
    assert element.get("href") == 'https://x.example/a?b=1&c="2"'
    assert element[0].get("class") == 'c"d' and element[0][0].text == "</title><script>"


def test_the_axis_copy_uses_the_figure_and_takes_its_share_of_the_width() -> None:
    copy = ET.fromstring(axis_copy("chart-r", (760.0, 220.0), (65.6, 189.74)))
    assert copy.get("class") == "chart-axis" and copy.get("viewBox") == "0 0 65.6 220"
    assert copy.get("width") == "8.632%" and copy.get("aria-hidden") == "true"
    clip = copy[0]
    assert (clip.get("width"), clip.get("height")) == ("65.6", "189.7")
    assert clip[0].get("href") == "#chart-r-figure_1"
