"""GitLab's report artifacts: the JUnit XML and the metrics report of a comparison."""

from __future__ import annotations

import os
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchtrail.compare.comparison import Comparison, Row
from benchtrail.compare.rule import Decision
from benchtrail.errors import ReportError
from benchtrail.gitlab.reports import junit_xml, metrics_report, write_report

ENV_A = "a" * 64
ENV_B = "b" * 64
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
#: any text at all: control characters, lone surrogates, U+FFFE
ANY_TEXT = st.text(st.characters(exclude_categories=(), min_codepoint=0, max_codepoint=0x10FFFF), max_size=12)


def row(benchmark: str = "predict", metric: str = "latency_ms", verdict: str = "unchanged", *,
        suite: str = "infer", params: tuple[tuple[str, object], ...] = (), unit: str = "ms",
        fingerprint: str = ENV_A, current: float = 4.6) -> Row:
    decisions = {
        "regression": Decision("regression", 4.1, current, 0.123, 0.031, 0.072, 12, 6),
        "improvement": Decision("improvement", 4.1, current, -0.2, 0.01, 0.05, 12, 6),
        "inconclusive": Decision("inconclusive", 4.1, current, 0.07, 0.05, 0.2, 12, 6),
        "unchanged": Decision("unchanged", 4.1, current, 0.01, 0.01, 0.05, 12, 6),
        "no_baseline": Decision("no_baseline", None, current, current_runs=6),
        "environment_changed": Decision("environment_changed", None, current, current_runs=6),
    }
    return Row(suite, benchmark, params, metric, unit, "lower", fingerprint, decisions[verdict])


def comparison(*rows: Row) -> Comparison:
    return Comparison(tuple(rows), "main", "c0ffee", 0.05)


def cases(xml: str) -> dict[tuple[str, str], ET.Element]:
    """``(classname, name)`` -> testcase, checking that GitLab would keep every one."""
    found = [(c.get("classname"), c.get("name"), c) for c in ET.fromstring(xml).iter("testcase")]
    assert len({(a, b) for a, b, _ in found}) == len(found), "GitLab ignores a repeated classname + name"
    return {(a, b): c for a, b, c in found}


def gitlab_metrics(text: str) -> dict[str, str]:
    """The metrics as GitLab's parser reads them: ``#`` to the end of a line dropped, the
    rest split like a shell, the first word the name and the second the value."""
    found = {}
    for line in text.splitlines():
        words = shlex.split(re.sub(r"#.*$", "", line))
        if words:
            assert len(words) == 2, line
            found[words[0]] = words[1]
    return found


def test_junit_counts_suites_and_names() -> None:
    xml = junit_xml(comparison(
        row(verdict="regression", params=(("batch", 8),)), row("load", verdict="inconclusive"),
        row("load", "peak_rss_mb", "improvement", unit="MB"), row("read", suite="io", verdict="no_baseline"),
    ))
    root = ET.fromstring(xml)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "4", "failures": "1", "errors": "0", "skipped": "0"}
    suites = {s.get("name"): (s.get("tests"), s.get("failures"), s.get("skipped")) for s in root.iter("testsuite")}
    assert suites == {"benchtrail infer": ("3", "1", "0"), "benchtrail io": ("1", "0", "0")}
    assert sorted(cases(xml)) == [("infer", "load latency_ms"), ("infer", "load peak_rss_mb"),
                                  ("infer", "predict[batch=8] latency_ms"), ("io", "read latency_ms")]
    assert len(root.findall(".//failure")) == 1
    assert not root.findall(".//skipped") and not root.findall(".//error")


def test_a_regression_fails_with_one_readable_line() -> None:
    case = cases(junit_xml(comparison(row(verdict="regression"))))["infer", "predict latency_ms"]
    failure = case.find("failure")
    assert failure is not None
    message = ("latency_ms +12.3 % (baseline 4.1 ms → 4.6 ms), beyond the 5 % minimum effect and the noise "
               "(±3.1 % per run, threshold 7.2 %)")
    assert failure.get("message") == message
    assert failure.get("type") == "regression"
    # GitLab shows the element's text, not its message attribute
    assert failure.text is not None and failure.text.startswith(f"regression: {message}\n")
    assert "runs: 12 baseline, 6 current; lower is better" in failure.text


@pytest.mark.parametrize(("verdict", "says"), [
    ("inconclusive", ("inconclusive: latency_ms +7.0 % (baseline 4.1 ms → 4.6 ms), beyond the 5 % minimum "
                     "effect but within the noise (±5.0 % per run, threshold 20.0 %)")),
    ("no_baseline", "no baseline: latency_ms 4.6 ms, main has no runs of it in this environment"),
    ("environment_changed", ("environment changed: latency_ms 4.6 ms, the environment changed since the "
                            "baseline, so it was not compared")),
    ("improvement", "improvement: latency_ms -20.0 % (baseline 4.1 ms → 4.6 ms), beyond the 5 % minimum"),
    ("unchanged", "unchanged: latency_ms +1.0 % (baseline 4.1 ms → 4.6 ms), within the 5 % minimum effect"),
])
def test_other_verdicts_pass_and_say_what_they_are(verdict: str, says: str) -> None:
    xml = junit_xml(comparison(row(verdict=verdict)))
    case = cases(xml)["infer", "predict latency_ms"]
    assert [child.tag for child in case] == ["system-out"]
    assert (case.findtext("system-out") or "").startswith(says)
    assert ET.fromstring(xml).get("failures") == "0"


def test_environment_notes_and_an_undefined_change() -> None:
    zero = Row("infer", "predict", (), "latency_ms", "ms", "lower", ENV_A, Decision("inconclusive", 0.0, 1.0))
    c = Comparison((zero,), "main", None, 0.05,
                   environment_notes={("infer", ENV_A): ("Python changed since the baseline",)})
    out = cases(junit_xml(c))["infer", "predict latency_ms"].findtext("system-out") or ""
    assert "the change is undefined for zero or negative values" in out
    assert f"environment {ENV_A[:12]}: Python changed since the baseline" in out


def test_only_a_suite_with_several_environments_names_them() -> None:
    xml = junit_xml(comparison(row(fingerprint=ENV_A), row(fingerprint=ENV_B, verdict="regression"),
                               row(suite="io", fingerprint=ENV_B)))
    assert sorted(cases(xml)) == [("infer", "predict latency_ms (env aaaaaaaa)"),
                                  ("infer", "predict latency_ms (env bbbbbbbb)"), ("io", "predict latency_ms")]


def test_hostile_names_survive_as_text() -> None:
    hostile = '<script>alert("x")</script> & ]]> \x01\x1f\ufffe\ud800'
    xml = junit_xml(comparison(row(hostile, hostile, "regression", suite=hostile, unit='"&<>\x00')))
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    shown = '<script>alert("x")</script> & ]]> \\x01\\x1f\\ufffe\\ud800'
    assert suite.get("name") == f"benchtrail {shown}"
    ((classname, name),) = cases(xml)
    assert (classname, name) == (shown, f"{shown} {shown}")
    assert '"&<>\\x00' in (suite.findtext("testcase/failure") or "")
    assert "<script>" not in xml and all(re.search(c, xml) is None for c in ("\x01", "\x00"))
    assert all(NAME.fullmatch(name) for name in gitlab_metrics(metrics_report(comparison(row(hostile)))))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(ANY_TEXT, ANY_TEXT, ANY_TEXT), min_size=1, max_size=6))
def test_any_names_give_valid_reports(names: list[tuple[str, str, str]]) -> None:
    rows = [row(b or "b", m or "m", suite=s or "s", current=i + 0.5) for i, (s, b, m) in enumerate(names)]
    ET.fromstring(junit_xml(comparison(*rows)).encode())  # the bytes write_report writes
    text = metrics_report(comparison(*rows))
    metrics = gitlab_metrics(text)
    assert len(metrics) == len(rows) == len(text.splitlines()) - 1
    assert all(NAME.fullmatch(name) for name in metrics)


def test_metrics_report_lines() -> None:
    text = metrics_report(comparison(
        row(params=(("batch", 8), ("dtype", "fp16")), current=4.56789),
        row("load", "throughput", unit="items/s", current=1234567.0),
        row("read", "duration", suite="io", unit="s", current=0.000123456),
    ))
    assert text == ("benchtrail_infer_load_throughput_items_s 1235000\n"
                    "benchtrail_infer_predict_batch_8_dtype_fp16_latency_ms 4.568\n"
                    "benchtrail_io_read_duration_s 0.0001235\n"
                    "# EOF\n")
    assert metrics_report(comparison(row(current=1e-9), row("huge", current=2.5e20))).splitlines()[:2] == [
        "benchtrail_infer_huge_latency_ms 2.5e+20", "benchtrail_infer_predict_latency_ms 1e-09"]


def test_a_missing_benchmark_has_no_metrics_line_and_a_failing_test_case() -> None:
    """A benchmark the merge request removed has no current value: no line in the metrics
    report (a crash there once turned a "missing" verdict into exit 3), a failed test case
    in the JUnit report."""
    missing = Row("infer", "gone", (), "presence", "", "lower", ENV_A, Decision("missing", None, None, baseline_runs=3))
    both = comparison(row(current=4.56789), missing)
    assert metrics_report(both) == "benchtrail_infer_predict_latency_ms 4.568\n# EOF\n"
    failure = cases(junit_xml(both))["infer", "gone presence"].find("failure")
    assert failure is not None and failure.get("type") == "missing"
    assert "main has it, the runs compared have not" in (failure.text or "")


def test_metrics_report_is_deterministic_and_names_environments() -> None:
    rows = [row(verdict="regression", fingerprint=ENV_A), row(fingerprint=ENV_B), row("load", suite="io")]
    text = metrics_report(comparison(*rows))
    assert text == metrics_report(comparison(*reversed(rows)))
    assert sorted(gitlab_metrics(text)) == ["benchtrail_infer_predict_latency_ms_aaaaaaaa",
                                            "benchtrail_infer_predict_latency_ms_bbbbbbbb",
                                            "benchtrail_io_load_latency_ms"]


def test_colliding_metric_names_get_stable_distinct_suffixes() -> None:
    first = metrics_report(comparison(row("a-b"), row("a_b"), row("a.b")))
    names = sorted(gitlab_metrics(first))
    assert len(names) == 3 and all(re.fullmatch(r"benchtrail_infer_a_b_latency_ms_[0-9a-f]{8}", n) for n in names)
    # a suffix depends only on its own benchmark, not on what else the report holds
    assert set(gitlab_metrics(metrics_report(comparison(row("a-b"), row("a_b"))))) < set(names)


def test_an_empty_comparison() -> None:
    root = ET.fromstring(junit_xml(comparison()))
    assert (root.get("tests"), root.get("failures"), list(root)) == ("0", "0", [])
    assert metrics_report(comparison()) == "# EOF\n"


def test_write_report_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "deep" / "junit.xml"
    write_report(target, "first ✓\n")
    write_report(target, "second ✓\n")
    assert target.read_bytes() == "second ✓\n".encode()
    assert os.listdir(target.parent) == ["junit.xml"]
    assert target.stat().st_mode & 0o044 == 0o044 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_write_report_says_why_it_cannot(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ReportError) as info:
        write_report(tmp_path / "file" / "metrics.txt", "# EOF\n")
    assert str(info.value) == f"{tmp_path / 'file'}: cannot create the report's folder: File exists"
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "inside").touch()
    with pytest.raises(ReportError) as info:
        write_report(tmp_path / "folder", "# EOF\n")
    assert str(info.value).startswith(f"{tmp_path / 'folder'}: cannot write the report: ")
    assert "\n" not in str(info.value)
    assert sorted(os.listdir(tmp_path / "folder")) == ["inside"]
    assert sorted(os.listdir(tmp_path)) == ["file", "folder"]
