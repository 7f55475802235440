"""The report site in headless Chromium: every page loads clean and hostile text stays text.

A results branch with two suites, two environments, a step, a benchmark named like an
``<img>`` with an ``onerror`` and commit titles holding a ``<script>``, Markdown and a
``javascript:`` link; ``benchtrail report`` writes the site (and a merge request's page),
and Chromium (over its DevTools protocol, see ``devtools``) opens every page from
``file://``, light and dark, 1400 px wide and phone-sized. On every load: no console
error, no uncaught exception, no failed or outside request, no dialog; in the DOM after
load: every image decoded, every link and resource a file of the site (and every
``#anchor`` an id of its page) or the project's GitLab. Screenshots land in
``tmp_path / "screenshots"`` for a person to look at.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from click.testing import CliRunner
from comparefixtures import FINGERPRINT, OTHER_FINGERPRINT, bench_record, noisy, push_history, typed
from devtools import Browser, Tab

from benchtrail.cli import cli

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("git_env")]
pytest_plugins = ("gitfixtures",)

PROJECT = "https://gitlab.example.com/group/proj"
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_TITLE = "<script>alert(1)</script> **bold** [x](javascript:alert(1))"
COMMITS = 12
#: "double" in the first environment steps from 10 to 13 ms at this commit (titled HOSTILE_TITLE)
STEP_AT = 8
WINDOWS = {"wide": (1400, 900), "phone": (390, 844)}
SCHEMES = ("light", "dark")
#: the pages photographed in every scheme and window (every page is loaded in all of them)
SHOWN = ("index.html", "regressions.html", "suites/demo.html", "mr/index.html")
SHOT_MAX_HEIGHT = 4000

#: What a page holds after load, read in the page: links and resources (absolute URLs),
#: images that did not decode, ids, event-handler attributes, scripts, emphasis, text.
FACTS = r"""(() => {
  const xlink = "http://www.w3.org/1999/xlink";
  const href = el => el.getAttribute("href") ?? el.getAttributeNS(xlink, "href");
  const absolute = raw => new URL(raw, document.baseURI).href;
  const all = [...document.querySelectorAll("*")];
  return {
    links: [...document.querySelectorAll("a")].map(href).filter(h => h !== null).map(absolute),
    resources: [...document.querySelectorAll("[src], link[href], image, use")]
      .map(el => el.getAttribute("src") ?? href(el)).filter(h => h !== null).map(absolute),
    broken_images: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
      .map(i => i.currentSrc || i.src),
    ids: [...all.filter(el => el.id).map(el => el.id), ...[...document.querySelectorAll("a[name]")].map(a => a.name)],
    handlers: all.flatMap(el => [...el.attributes].filter(a => a.name.toLowerCase().startsWith("on"))
      .map(a => `<${el.localName} ${a.name}="${a.value}">`)),
    scripts: [...document.scripts].map(s => s.src || s.textContent),
    emphasis: [...document.querySelectorAll("b, strong, em, i")].map(el => el.textContent),
    text: document.body.innerText,
    svg_text: [...document.querySelectorAll("svg title, svg text")].map(el => el.textContent).join("\n"),
    overflow_px: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  };
})()"""


def history_records() -> list[dict[str, Any]]:
    """Suite ``demo`` in two environments (``double``: latency and throughput, stepping up
    at ``STEP_AT``; and the hostile name), suite ``other`` in one, every fourth commit
    titled ``HOSTILE_TITLE``."""
    rng = np.random.default_rng(11)
    records = []
    for n in range(1, COMMITS + 1):
        title = HOSTILE_TITLE if n % 4 == 0 else f"Commit {n}: tune the batcher"
        for slot, fingerprint in enumerate((FINGERPRINT, OTHER_FINGERPRINT)):
            level = 13.0 if (slot == 0 and n >= STEP_AT) else 10.0 + 20 * slot
            records.append(bench_record({
                "double": {"latency_ms": noisy(rng, level),
                           "throughput": {"unit": "items/s", "direction": "higher", "value": 100.0,
                                          "runs": noisy(rng, 100.0)}},
                HOSTILE_NAME: noisy(rng, 5.0),
            }, n=n, rerun=slot, fingerprint=fingerprint))
        records.append(bench_record({"resize": noisy(rng, 2.0 if n < 6 else 1.5)}, n=n, rerun=5, suite="other"))
        for record in records[-3:]:
            record["source"].update(commit_title=title, project_url=PROJECT, pipeline_id=str(900 + n),
                                    pipeline_url=f"{PROJECT}/-/pipelines/{900 + n}")
    return records


def comparison_file(records: list[dict[str, Any]], path: Path) -> Path:
    """A merge request's comparison document: its run of ``demo`` against the history."""
    from benchtrail.compare.comparison import compare_records
    from benchtrail.compare.document import dump_comparison

    rng = np.random.default_rng(12)
    current = bench_record({"double": noisy(rng, 17.0), HOSTILE_NAME: noisy(rng, 5.0)}, n=50, ref="feature")
    current["source"].update(mr_iid="7", commit_title=HOSTILE_TITLE, pipeline_id="999", project_url=PROJECT,
                             pipeline_url=f"{PROJECT}/-/pipelines/999")
    baseline = [r for r in records if r["suite"] == "demo" and r["environment"]["fingerprint"] == FINGERPRINT]
    return dump_comparison(compare_records(typed([current]), typed(baseline), target_ref="main"), path)


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    """One headless Chromium for the module's tests."""
    started = Browser(chromium)
    yield started
    started.close()


@pytest.fixture
def site(work: Path, tmp_path: Path) -> Path:
    """The site of a results branch, written by ``benchtrail report``, with the merge
    request's page in ``mr/``."""
    records = history_records()
    push_history(work, records, tmp_path / "records")
    out = tmp_path / "public"
    runner = CliRunner()
    done = runner.invoke(cli, ["report", "--repo", str(work), "--out", str(out), "--title", "Speed <i>of</i> us",
                               "--project-url", PROJECT], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    compared = comparison_file(records, tmp_path / "comparison.json")
    mr = runner.invoke(cli, ["report", "--comparison", str(compared), "--out", str(out / "mr"),
                             "--project-url", PROJECT], catch_exceptions=False)
    assert mr.exit_code == 0, mr.output
    return out


@dataclass
class Visit:
    """What loading one page in one scheme and window showed: problems found, and its facts."""

    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


def load_problems(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Console errors, uncaught exceptions, failed or outside requests and dialogs among ``events``."""
    urls: dict[str, str] = {}
    problems = []
    for method, params in events:
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            urls[params["requestId"]] = url
            if not url.startswith(("file:", "data:", "about:")):
                problems.append(f"request outside the site: {url}")
        elif method == "Network.loadingFailed":
            problems.append(f"failed to load {urls.get(params['requestId'], '?')}: {params['errorText']}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            problems.append(f"console error ({entry['source']}): {entry['text']} {entry.get('url', '')}".rstrip())
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            words = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params["args"])
            problems.append(f"console.{params['type']}: {words}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            described = details.get("exception", {}).get("description", details["text"])
            problems.append(f"uncaught exception: {described.splitlines()[0]}")
        elif method == "Page.javascriptDialogOpening":
            problems.append(f"a {params['type']} dialog opened: {params['message']!r}")
    return problems


def markup_problems(facts: dict[str, Any]) -> list[str]:
    """Elements that only hostile text could have made: event-handler attributes, a script
    that is not the site's, emphasis from Markdown, an image with ``src=x``."""
    problems = [f"event handler attribute {h}" for h in facts["handlers"]]
    problems += [f"script with alert: {s[:80]!r}" for s in facts["scripts"] if "alert" in s]
    problems += [f"emphasis made from text: {e!r}" for e in facts["emphasis"] if "bold" in e]
    problems += [f"image made from text: {u}" for u in facts["resources"] if u.rsplit("/", 1)[-1] == "x"]
    return problems


def visit(tab: Tab, page: Path) -> Visit:
    """Load ``page`` and check the load and the DOM after it."""
    problems = load_problems(tab.goto(page.as_uri()))
    facts = tab.evaluate(FACTS)
    problems += [f"image did not decode: {url}" for url in facts["broken_images"]]
    problems += markup_problems(facts)
    return Visit(problems, facts)


def link_problems(site: Path, facts: dict[Path, dict[str, Any]], allowed_prefix: str) -> list[str]:
    """Every link and resource of every visited page that is neither a file of the site
    (with its ``#anchor`` an id of the page it names) nor under ``allowed_prefix``."""
    problems = []
    for page, found in facts.items():
        name = page.relative_to(site)
        for kind, urls in (("link", found["links"]), ("resource", found["resources"])):
            for url in urls:
                parts = urlsplit(url)
                if parts.scheme != "file":
                    if not url.startswith(allowed_prefix):
                        problems.append(f"{name}: {kind} outside the site: {url}")
                    continue
                target = Path(unquote(parts.path))
                if site.resolve() not in target.resolve().parents or not target.is_file():
                    problems.append(f"{name}: {kind} to no file of the site: {url}")
                elif parts.fragment:
                    ids = facts[target]["ids"] if target in facts else ()
                    if unquote(parts.fragment) not in ids:
                        problems.append(f"{name}: {kind} to no such anchor: {url}")
    return problems


def screenshot(tab: Tab, path: Path, width: int) -> None:
    """The page from its top, as tall as its content (at most ``SHOT_MAX_HEIGHT``), as PNG."""
    height = tab.send("Page.getLayoutMetrics")["cssContentSize"]["height"]
    shot = tab.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                    clip={"x": 0, "y": 0, "width": width, "height": min(height, SHOT_MAX_HEIGHT), "scale": 1})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def crawl(browser: Browser, site: Path, shots: Path) -> tuple[list[str], dict[Path, dict[str, Any]]]:
    """Every page of ``site`` in every scheme and window: the problems (each once, with
    where it was seen first) and each page's facts from the wide light load."""
    tab = browser.new_tab("Page", "Runtime", "Log", "Network")
    pages = sorted(site.rglob("*.html"))
    problems: dict[str, str] = {}
    facts: dict[Path, dict[str, Any]] = {}
    for scheme in SCHEMES:
        tab.send("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": scheme}])
        for window, (width, height) in WINDOWS.items():
            tab.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                     mobile=window == "phone")
            for page in pages:
                name = str(page.relative_to(site))
                seen = visit(tab, page)
                if seen.facts["overflow_px"] > 1:  # the page scrolls sideways, not just a table or chart
                    seen.problems.append(f"wider than the {width} px window by {seen.facts['overflow_px']} px")
                for problem in seen.problems:
                    problems.setdefault(f"{name}: {problem}", f"{scheme}, {window}")
                facts.setdefault(page, seen.facts)
                if name in SHOWN:
                    screenshot(tab, shots / f"{name.replace('/', '-')[:-5]}-{window}-{scheme}.png", width)
    return [f"{problem} ({where})" for problem, where in problems.items()], facts


def test_every_page_loads_clean_in_chromium_and_hostile_text_stays_text(browser: Browser, site: Path,
                                                                       tmp_path: Path) -> None:
    problems, facts = crawl(browser, site, tmp_path / "screenshots")
    problems += link_problems(site, facts, PROJECT + "/-/")
    assert problems == []
    assert {str(p.relative_to(site)) for p in facts} == {
        "index.html", "regressions.html", "suites/demo.html", "suites/other.html", "history/demo.html",
        "history/other.html", "mr/index.html"}
    # the hostile name and title read as text where the pages show them, in tables and in
    # the charts' tooltips; the site title too
    suite = facts[site / "suites" / "demo.html"]
    assert HOSTILE_NAME in suite["text"] and HOSTILE_TITLE in suite["text"]
    assert HOSTILE_TITLE in suite["svg_text"]
    mr = facts[site / "mr" / "index.html"]
    assert HOSTILE_NAME in mr["text"] and HOSTILE_TITLE in mr["text"]
    assert "Speed <i>of</i> us" in facts[site / "index.html"]["text"]
    for page, found in facts.items():
        assert len(found["scripts"]) == 1 and not found["scripts"][0].startswith("file:"), page
    # the change point names its commit (the hostile title) and links the chart's permalink
    regressions = facts[site / "regressions.html"]
    assert HOSTILE_TITLE in regressions["text"]
    assert any(link.endswith("suites/demo.html#double--latency_ms") for link in regressions["links"])
    assert len(list((tmp_path / "screenshots").glob("*.png"))) == len(SHOWN) * len(WINDOWS) * len(SCHEMES)


BROKEN_PAGE = """<!doctype html>
<html><head><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="missing.css"></head>
<body><img src="missing.png" alt=""><a href="other.html">a page</a><a href="#nowhere">an anchor</a>
<a href="https://elsewhere.example/">out</a><p style="width: 2000px">wide</p><b onclick="go()">bold</b>
<script>console.error("deliberate"); alert("hi");</script>
<script>throw new Error("thrown")</script>
</body></html>
"""


def test_the_checks_see_what_a_broken_page_does_wrong(browser: Browser, tmp_path: Path) -> None:
    """The same checks on a page that is wrong on purpose: they must find each fault, or
    the test above could pass without looking."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "page.html").write_text(BROKEN_PAGE, encoding="utf-8")
    problems, facts = crawl(browser, site, tmp_path / "shots")
    problems += link_problems(site, facts, PROJECT + "/-/")
    missing = "net::ERR_FILE_NOT_FOUND"
    # sorted: a failed image and a script's console call may come in either order
    assert sorted(problem.replace(site.as_uri(), "S") for problem in problems) == sorted([
        f"page.html: failed to load S/missing.css: {missing} (light, wide)",
        f"page.html: console error (network): Failed to load resource: {missing} S/missing.css (light, wide)",
        f"page.html: failed to load S/missing.png: {missing} (light, wide)",
        f"page.html: console error (network): Failed to load resource: {missing} S/missing.png (light, wide)",
        "page.html: console.error: deliberate (light, wide)",
        "page.html: a alert dialog opened: 'hi' (light, wide)",
        "page.html: uncaught exception: Error: thrown (light, wide)",
        "page.html: image did not decode: S/missing.png (light, wide)",
        'page.html: event handler attribute <b onclick="go()"> (light, wide)',
        'page.html: script with alert: \'console.error("deliberate"); alert("hi");\' (light, wide)',
        "page.html: emphasis made from text: 'bold' (light, wide)",
        "page.html: wider than the 1400 px window by 608 px (light, wide)",
        "page.html: wider than the 390 px window by 1618 px (light, phone)",
        "page.html: link to no file of the site: S/other.html",
        "page.html: link to no such anchor: S/page.html#nowhere",
        "page.html: link outside the site: https://elsewhere.example/",
        "page.html: resource to no file of the site: S/missing.css",
        "page.html: resource to no file of the site: S/missing.png",
    ])
