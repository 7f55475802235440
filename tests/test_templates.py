"""The CI template as files: one source in two places, every input declared and documented,
and the commands it runs are ones the CLI has. Running it is tested in tests/e2e."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from benchtrail.cli import cli

ROOT = Path(__file__).resolve().parents[1]
COMPONENT = ROOT / "templates" / "benchmark.yml"
COPY = ROOT / "ci-templates" / "benchmark.yml"
USED = re.compile(r"\$\[\[\s*inputs\.([a-z0-9_-]+)\s*\]\]")


def split(text: str) -> tuple[str, str]:
    header, separator, body = text.partition("\n---\n")
    assert separator, "the spec header ends with a line ---"
    return header, body


def declared(header: str) -> dict[str, str]:
    """input name -> its block of the header (the lines indented under it)."""
    blocks: dict[str, str] = {}
    name = None
    for line in header.splitlines():
        found = re.fullmatch(r" {4}([a-z0-9_-]+):\s*", line)
        if found:
            name = found.group(1)
            blocks[name] = ""
        elif name is not None and line.startswith(" " * 6):
            blocks[name] += line.strip() + "\n"
    return blocks


def passed_inputs(pipeline: str) -> set[str]:
    """Input names given to an include of the template in a .gitlab-ci.yml (commented or not)."""
    names: set[str] = set()
    lines = pipeline.splitlines()
    for number, line in enumerate(lines):
        if re.fullmatch(r"\s*#?\s*inputs:\s*", line):
            indent = len(line) - len(line.lstrip(" #"))
            for following in lines[number + 1:]:
                stripped = following.lstrip(" #")
                if len(following) - len(stripped) <= indent or not stripped:
                    break
                key = re.match(r"([a-z0-9_-]+):", stripped)
                if key:
                    names.add(key.group(1))
    return names


def test_one_source_for_include_and_component() -> None:
    """GitLab reads an included file from the repository, where a symlink is only its target's
    path: ci-templates/benchmark.yml is a copy, and must stay one."""
    assert not COPY.is_symlink()
    assert COPY.read_bytes() == COMPONENT.read_bytes(), (
        "ci-templates/benchmark.yml differs from templates/benchmark.yml, the source: "
        "cp templates/benchmark.yml ci-templates/benchmark.yml")
    assert sorted(p.name for p in COMPONENT.parent.iterdir()) == ["benchmark.yml"]


def test_every_input_is_declared_documented_and_defaulted() -> None:
    header, body = split(COMPONENT.read_text(encoding="utf-8"))
    inputs = declared(header)
    assert {"stage", "image", "suite", "results-branch", "min-effect", "fail-on-regression", "tags"} <= set(inputs)
    for name, block in inputs.items():
        assert "description:" in block, f"input {name} has no description"
        assert "default:" in block, f"input {name} has no default: including the template needs no inputs"
    used = set(USED.findall(body))
    assert used <= set(inputs), f"used but not declared: {used - set(inputs)}"
    for name in set(inputs) - used:  # declared now, for the jobs that come later
        assert re.search(r'description: "Later, with the (compare|report) job', inputs[name]), name


def test_the_jobs() -> None:
    _, body = split(COMPONENT.read_text(encoding="utf-8"))
    jobs = dict(re.findall(r'^"([^"]+)":\n((?:(?: .*)?\n)*)', body, re.MULTILINE))
    assert set(jobs) == {"$[[ inputs.name ]]", "$[[ inputs.name ]]-compare", "$[[ inputs.name ]]-record", "pages"}
    bench, record = jobs["$[[ inputs.name ]]"], jobs["$[[ inputs.name ]]-record"]
    compare = jobs["$[[ inputs.name ]]-compare"]
    assert 'benchtrail run "$[[ inputs.suite ]]" --out "benchtrail-out/$CI_JOB_ID"' in bench
    assert "benchtrail-out/" in bench.split("artifacts:")[1]
    assert "if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" in record
    assert 'job: "$[[ inputs.name ]]"\n      artifacts: true' in record
    assert "resource_group: benchtrail-$[[ inputs.results-branch ]]" in record
    script = record.split("script:")[1]
    assert script.index("benchtrail check-push") < script.index("benchtrail record benchtrail-out/*/*.json")
    assert script.index("benchtrail record") < script.index("benchtrail compare")  # the webhook check
    assert 'if: $CI_PIPELINE_SOURCE == "merge_request_event"' in compare
    assert 'job: "$[[ inputs.name ]]"\n      artifacts: true' in compare
    steps = compare.split("script:")[1].split("artifacts:")[0]
    # the note goes out before the job ends with the verdict's status
    assert steps.index("benchtrail compare") < steps.index("benchtrail note") < steps.index("exit $status")
    reports = compare.split("reports:")[1]
    assert "junit: benchtrail-report/junit.xml" in reports and "metrics: benchtrail-report/metrics.txt" in reports
    assert "- benchtrail-report/" in compare.split("paths:")[1]  # junit.xml under paths too
    for job in (bench, compare, record, jobs["pages"]):
        assert 'entrypoint: [""]' in job  # the image's entrypoint is benchtrail, not a shell


def test_the_pages_job() -> None:
    """Named ``pages``, which makes it a Pages job on every GitLab (gitlab-ci-local 4.56.2
    refuses the ``pages:`` keyword); on the default branch only, when the input says so,
    after the record job; the site from the results branch, fetched, not from a cache."""
    _, body = split(COMPONENT.read_text(encoding="utf-8"))
    pages = body.split('\n"pages":\n')[1]
    assert re.search(r"^  pages:", pages, re.MULTILINE) is None and "publish:" not in pages
    rules = pages.split("rules:\n")[1].split("\n  ")[0]
    assert rules == """    - if: '"$[[ inputs.pages ]]" == "true" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'"""
    needs = pages.split("needs:\n")[1].split("\n  rules:")[0]
    assert needs.startswith('    - job: "$[[ inputs.name ]]-record"') and "artifacts: false" in needs
    assert needs.count("- job:") == 1
    steps = pages.split("script:\n")[1].split("\n  artifacts:")[0]
    assert ('benchtrail report --branch "$[[ inputs.results-branch ]]" --out "$[[ inputs.site-dir ]]" '
            '--chart-cache .benchtrail-report-cache') in steps
    assert "--no-fetch" not in steps and "--cache" not in steps.replace("--chart-cache", "")
    assert pages.split("cache:\n")[1].split("script:")[0].split("paths:")[1].split() == [
        "-", ".benchtrail-report-cache/"]  # the charts only: never the records
    assert pages.split("\n  artifacts:")[1].split("paths:")[1].split() == ["-", "public"]
    header, _ = split(COMPONENT.read_text(encoding="utf-8"))
    site_dir = declared(header)["site-dir"]
    regex = re.compile(re.search(r"^regex: (.*)$", site_dir, re.MULTILINE).group(1))
    assert regex.fullmatch("public") and regex.fullmatch("public/benchmarks")
    assert not regex.fullmatch("site") and not regex.fullmatch("public/../x") and not regex.fullmatch("publications")


def test_the_template_calls_options_the_cli_has() -> None:
    _, body = split(COMPONENT.read_text(encoding="utf-8"))
    lines = re.findall(r"^\s*- '?(.*)$", body, re.MULTILINE)
    calls = [call for line in lines for call in re.findall(r"\bbenchtrail [a-z-]+[^;|]*", line)]
    assert {call.split()[1] for call in calls} == {"run", "check-push", "record", "compare", "note", "report"}
    for line in calls:
        words = shlex.split(USED.sub("x", line).replace("$[[", "").replace("]]", ""))
        command = cli.commands[words[1]]
        known = {opt for param in command.params for opt in param.opts}
        for word in words[2:]:
            if word.startswith("--"):
                assert word in known, f"{line}: benchtrail {words[1]} has no {word}"
    # a variable the template sets is one that a command reads
    envvars = {name for command in cli.commands.values() for param in command.params if param.envvar
               for name in ([param.envvar] if isinstance(param.envvar, str) else param.envvar)}
    assert set(re.findall(r"^\s+(BENCHTRAIL_[A-Z_]+):", body, re.MULTILINE)) <= envvars


def test_pipelines_pass_only_declared_inputs() -> None:
    inputs = set(declared(split(COMPONENT.read_text(encoding="utf-8"))[0]))
    for pipeline in (ROOT / "examples" / "gitlab-ci.yml", ROOT / ".gitlab-ci.yml"):
        given = passed_inputs(pipeline.read_text(encoding="utf-8"))
        assert given, f"{pipeline.name} passes no inputs"
        assert given <= inputs, f"{pipeline.name}: no such input {given - inputs}"


def test_the_project_pipeline_releases_semantic_version_tags() -> None:
    text = (ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8")
    assert "component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/benchmark@$CI_COMMIT_SHA" in text
    release = text.split("\nrelease:\n")[1]
    assert r"if: $CI_COMMIT_TAG =~ /^\d+\.\d+\.\d+$/" in release
    assert "tag_name: $CI_COMMIT_TAG" in release
