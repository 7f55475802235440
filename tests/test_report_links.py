"""``report.links``: relative pages, and only http(s) links out."""

from __future__ import annotations

from benchtrail.report.links import commit_url, data_file, history_page, suite_page, web_url


def test_pages_and_links() -> None:
    assert (suite_page("mlp-cpu"), history_page("mlp-cpu"), data_file("mlp-cpu", "csv")) == (
        "suites/mlp-cpu.html", "history/mlp-cpu.html", "data/mlp-cpu.csv")
    assert commit_url("https://gitlab.example.com/g/p/", "ab12") == "https://gitlab.example.com/g/p/-/commit/ab12"
    assert commit_url("https://gitlab.example.com/g/p", "a/b?c") == "https://gitlab.example.com/g/p/-/commit/a%2Fb%3Fc"
    assert commit_url(None, "ab12") is None and commit_url("https://x.example", None) is None
    for bad in ("javascript:alert(1)", "data:text/html,x", "/relative", "ftp://x.example", "https://", "",
                'https://x.example/"onmouseover=1', None):
        assert web_url(bad) is None, bad
    assert web_url(" http://x.example/a ") == "http://x.example/a"
