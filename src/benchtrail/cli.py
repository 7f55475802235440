"""The ``benchtrail`` command line: parse, call one function, pick the exit code.

Exit codes: 0 fine, 1 a regression under ``--fail-on-regression``, 2 a user or
environment error (one line per problem on stderr), 3 a bug (with its traceback); 130
after Ctrl-C and 141 when the reader of stdout went away (``| head``), as a shell says
for a process ended by SIGINT or SIGPIPE.
Heavy modules are imported inside the commands so ``benchtrail --help`` stays fast.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import click

from benchtrail import __version__
from benchtrail.commands import defaults
from benchtrail.compare.defaults import DEFAULT_MIN_EFFECT, DEFAULT_WINDOW
from benchtrail.errors import EXIT_BUG, BenchtrailError, RecordError
from benchtrail.importers import FORMATS
from benchtrail.results.branch import DEFAULT_BRANCH, branch_problem

__all__ = ["cli", "main"]

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
#: what GitLab sends a job it cancels or times out (then SIGKILL), and a closed terminal
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(BaseException):
    """A stop signal, raised where the program is so that every ``finally`` and ``with``
    runs: workers killed, scratch folders removed, a git push stopped, as on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated(signum)


class _StderrHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        prefix = "Warning: " if record.levelno >= logging.WARNING else ""
        click.echo(f"{prefix}{record.getMessage()}", err=True)


class _Benchtrail(click.Group):
    """Turns our exceptions into one line per problem and the exit code they carry."""

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        # Click's standalone mode exits 1 on Ctrl-C, and 1 means "regression" here.
        extra.pop("standalone_mode", None)
        main_thread = threading.current_thread() is threading.main_thread()
        before = {number: signal.signal(number, _terminate) for number in _STOP_SIGNALS} if main_thread else {}
        try:
            code = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except Terminated as exc:
            click.echo(f"Terminated ({exc}).", err=True)
            sys.exit(128 + exc.signum)
        finally:
            for number, handler in before.items():
                signal.signal(number, handler)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BenchtrailError as exc:
            for line in exc.problems:
                click.echo(f"Error: {line}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # The reader stopped reading (`benchtrail validate ... | head -1`): not a bug, and
            # not a regression (click's own handling exits 1). Point stdout at nothing so that
            # the interpreter's last flush cannot fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(EXIT_BROKEN_PIPE)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # anything else is our bug, never a "regression"
            _report_bug(exc)
            ctx.exit(EXIT_BUG)


@click.group(cls=_Benchtrail, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="benchtrail")
@click.option("-v", "--verbose", count=True, help="Say more on stderr (repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors on stderr.")
def cli(verbose: int, quiet: bool) -> None:
    """Continuous inference benchmarking: measure, record, compare, report."""
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    root = logging.getLogger("benchtrail")
    root.handlers[:] = [_StderrHandler()]
    root.setLevel(level)
    root.propagate = False


def _positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise click.BadParameter(f"expected a whole number >= 1, found {value}")
    return value


class _GpusType(click.ParamType):
    """docker's ``--gpus`` value: ``all``, a count, or ``device=ID[,ID]``."""

    name = "GPUS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from benchtrail.bench.container import parse_gpus

        try:
            parse_gpus(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return str(value).strip()


@cli.command("run")
@click.argument("suite", required=False, type=click.Path(dir_okay=False, path_type=Path),
                envvar="BENCHTRAIL_SUITE")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=defaults.OUT_DIR, show_default=True, envvar="BENCHTRAIL_OUT", show_envvar=True,
              help="Write the result record into this folder.")
@click.option("--runs", type=int, default=None, callback=_positive, envvar="BENCHTRAIL_RUNS",
              show_envvar=True, help="Measure every benchmark in this many fresh processes (default: the suite's).")
@click.option("--machine", default=None,
              help="Label of the machine class, part of the environment fingerprint (default: $BENCHTRAIL_MACHINE, "
                   "else the runner's tags).")
@click.option("--image", default=None, metavar="IMAGE",
              help="Run the suite in a container of this Docker image, with its workspace mounted "
                   "(default: run here, without Docker).")
@click.option("--gpus", type=_GpusType(), default=None,
              help="With --image: the GPUs the container gets, as docker takes them: all, a count, "
                   "or device=ID[,ID] (default: none).")
@click.option("--env", "env_names", multiple=True, metavar="NAME",
              help="With --image: also pass this environment variable into the container (repeatable), e.g. "
                   "OMP_NUM_THREADS; the CI variables run reads pass without it, tokens never.")
@click.option("--pull", type=click.Choice(["missing", "always", "never"]), default=None,
              help="With --image: when to pull it from its registry (default: missing).")
def run_command(suite: Path | None, out_dir: Path, runs: int | None, machine: str | None,
                image: str | None, gpus: str | None, env_names: tuple[str, ...], pull: str | None) -> None:
    """Run the benchmark SUITE (default: bench/suite.toml, or $BENCHTRAIL_SUITE) and write one record.

    With --image, the suite runs in a container of IMAGE; with no SUITE and no
    bench/suite.toml here, that is the suite baked into the image.
    """
    from benchtrail.commands.run import RunOptions, run

    if image is None:
        for name, value in (("--gpus", gpus), ("--pull", pull), ("--env", env_names or None)):
            if value is not None:
                raise click.UsageError(f"{name} needs --image")
    done = run(RunOptions(suite=suite, out_dir=out_dir, runs=runs, machine=machine, image=image, gpus=gpus,
                          pull=pull, env=env_names))
    click.echo(done.summary)
    click.echo(f"Wrote {done.path}", err=True)


@cli.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def validate_command(files: tuple[Path, ...]) -> None:
    """Check result record FILES against the schema; name every problem with its JSON path."""
    from benchtrail.commands.validate import validate

    checked = validate(files)
    for path in checked.valid:
        click.echo(f"{path}: valid")
    if checked.problems:
        raise RecordError(*checked.problems)


def _branch(ctx: click.Context, param: click.Parameter, value: str) -> str:
    problem = branch_problem(value)
    if problem:
        raise click.BadParameter(problem)
    return value


_BRANCH = click.option("--branch", default=DEFAULT_BRANCH, show_default=True, callback=_branch,
                       envvar="BENCHTRAIL_BRANCH", show_envvar=True, help="The results branch.")
_REPO = click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=".",
                     show_default=True, help="A path inside the git repository.")
_REMOTE = click.option("--remote", default="origin", show_default=True, envvar="BENCHTRAIL_REMOTE",
                       show_envvar=True, help="The git remote that holds the results branch.")


@cli.command("record")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@_REPO
@_REMOTE
@_BRANCH
@click.option("--push/--no-push", default=True, show_default=True,
              help="Push the commit, or only commit to the local branch.")
@click.option("--retries", type=click.IntRange(min=0), default=defaults.RECORD_RETRIES,
              help="At most this many pushes retried when another job pushed first (default: no count, "
                   "only --retry-timeout).")
@click.option("--retry-timeout", type=click.FloatRange(min=0), default=defaults.RETRY_TIMEOUT_S, show_default=True,
              help="Give up retrying after this many seconds.")
def record_command(files: tuple[Path, ...], repo: Path, remote: str, branch: str, push: bool,
                   retries: int | None, retry_timeout: float) -> None:
    """Commit result FILES to the results branch in one commit and push it."""
    from benchtrail.commands.record_results import RecordOptions, record

    done = record(RecordOptions(files=files, repo=repo, remote=remote, branch=branch, push=push, retries=retries,
                                retry_timeout_s=retry_timeout))
    for path in done.recorded.added:
        click.echo(path)
    for line in done.notices:
        click.echo(line, err=True)


@cli.command("history")
@_REPO
@_REMOTE
@_BRANCH
@click.option("--suite", default=None, help="Only this suite.")
@click.option("--benchmark", default=None, help="Only this benchmark (name, or name[params]).")
@click.option("--metric", default=None, help="Only this metric, e.g. latency_ms.")
@click.option("--ref", default=None, help="Only runs of this branch or tag.")
@click.option("--environment", default=None, help="Only this environment fingerprint (or a prefix of it).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="Output format.")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              envvar="BENCHTRAIL_CACHE", show_envvar=True,
              help="Keep fetched records in this bare repository, so the next read fetches only new ones.")
@click.option("--fetch/--no-fetch", default=True, show_default=True,
              help="Fetch the branch from the remote first, or read only the local copy.")
@click.option("--change-points", is_flag=True,
              help="Print only where each series stepped to a new level, and the commit it stepped at.")
def history_command(repo: Path, remote: str, branch: str, suite: str | None, benchmark: str | None,
                    metric: str | None, ref: str | None, environment: str | None, fmt: str,
                    cache: Path | None, fetch: bool, change_points: bool) -> None:
    """Print the history of every benchmark x metric on the results branch, oldest first."""
    from benchtrail.commands.show_history import HistoryOptions, history

    found = history(HistoryOptions(repo=repo, remote=remote, branch=branch, suite=suite, benchmark=benchmark,
                                   metric=metric, ref=ref, environment=environment, fmt=fmt, cache=cache,
                                   fetch=fetch, change_points=change_points))
    click.echo(found.text, nl=False)
    for note in found.notes:
        click.echo(f"Note: {note}", err=True)


class _PercentType(click.ParamType):
    """A relative change: ``5%``, ``5`` (percent) or ``2.5 %``; converted to a fraction."""

    name = "PERCENT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        text = str(value).strip().removesuffix("%").strip()
        try:
            percent = float(text)
        except ValueError:
            self.fail(f"expected a percentage like 5%, found {value!r}", param, ctx)
        if not 0 <= percent < 100:
            self.fail(f"expected a percentage from 0% to below 100%, found {value!r}", param, ctx)
        return percent / 100


@cli.command("compare")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@_REPO
@_REMOTE
@_BRANCH
@click.option("--baseline-ref", envvar=["BENCHTRAIL_BASELINE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
                                        "CI_DEFAULT_BRANCH"], show_envvar=True,
              help="The branch whose runs are the baseline (default: the merge request's target branch, "
                   "else the default branch).")
@click.option("--baseline-commit", envvar="CI_MERGE_REQUEST_DIFF_BASE_SHA", show_envvar=True,
              help="Compare with this commit's runs, or the latest ones before it (default: the merge base; "
                   "without one, the latest runs of the baseline branch).")
@click.option("--baseline-window", type=int, default=DEFAULT_WINDOW, show_default=True, callback=_positive,
              help="How many baseline commits, ending at the merge base, give the baseline and its noise.")
@click.option("--min-effect", type=_PercentType(), default=f"{DEFAULT_MIN_EFFECT:.0%}", show_default=True,
              envvar="BENCHTRAIL_MIN_EFFECT", show_envvar=True,
              help="The smallest change that counts as a regression (and only beyond the noise too).")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]), default="table",
              show_default=True, help="What to print on stdout.")
@click.option("--fail-on-regression", is_flag=True, envvar="BENCHTRAIL_FAIL_ON_REGRESSION", show_envvar=True,
              help="Exit 1 when a benchmark regressed, errs, is broken or (see --allow-missing) is missing "
                   "(default: report it and exit 0).")
@click.option("--fail-on-missing/--allow-missing", default=True, show_default=True,
              envvar="BENCHTRAIL_FAIL_ON_MISSING", show_envvar=True,
              help="Whether a benchmark the baseline has and the records lack (removed or renamed) fails "
                   "the gate; allow it for an intended removal.")
@click.option("--confirm-suite", type=click.Path(dir_okay=False, path_type=Path), default=None,
              envvar="BENCHTRAIL_CONFIRM_SUITE", show_envvar=True,
              help="Before deciding, run this suite's benchmarks that look regressed (or inconclusive) "
                   "again, in pairs with the merge base's code (a git worktree; in turn, fresh processes), "
                   "and decide on the pairs; where the merge base cannot run, on more runs of this code.")
@click.option("--confirm-times", type=click.IntRange(min=0), default=defaults.CONFIRM_TIMES, show_default=True,
              envvar="BENCHTRAIL_CONFIRM_TIMES", show_envvar=True,
              help="How many pairs (or more runs) --confirm-suite makes (0: none).")
@click.option("--confirm-out", type=click.Path(file_okay=False, path_type=Path),
              default=defaults.CONFIRM_OUT, show_default=True,
              help="Where the confirmation runs write their records (not under benchtrail-out/, which the "
                   "record job records).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the comparison document (benchtrail.comparison/1) to this file, for `benchtrail note`.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the merge request note (Markdown) to this file, for people to read.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a JUnit XML report: one test per benchmark x metric, failed on regression.")
@click.option("--metrics-report", "metrics_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write GitLab's metrics report (OpenMetrics text) to this file.")
@click.option("--report-url", envvar="BENCHTRAIL_REPORT_URL", show_envvar=True,
              help="The report site's address, for links from the note to its pages (default: no links).")
@click.option("--webhook", "webhook_url", envvar="BENCHTRAIL_WEBHOOK_URL", show_envvar=True,
              help="POST an alert to this URL (Slack/Mattermost compatible) when the runs compared are "
                   "of the baseline branch itself (the default branch) and regressed.")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              envvar="BENCHTRAIL_CACHE", show_envvar=True,
              help="Keep fetched records in this bare repository, so the next read fetches only new ones.")
@click.option("--fetch/--no-fetch", default=True, show_default=True,
              help="Fetch the results branch from the remote first, or read only the local copy.")
def compare_command(files: tuple[Path, ...], repo: Path, remote: str, branch: str, baseline_ref: str | None,
                    baseline_commit: str | None, baseline_window: int, min_effect: float, fmt: str,
                    fail_on_regression: bool, fail_on_missing: bool, confirm_suite: Path | None,
                    confirm_times: int, confirm_out: Path,
                    json_path: Path | None, markdown_path: Path | None, junit_path: Path | None, metrics_path: Path | None,
                    report_url: str | None, webhook_url: str | None, cache: Path | None, fetch: bool) -> int:
    """Compare result record FILES with their baseline on the results branch.

    Each benchmark x metric is a regression, an improvement, unchanged, inconclusive
    (beyond --min-effect but within the noise), without a baseline, or in a changed
    environment. Several FILES of one suite are repeated runs of the same code.
    """
    from benchtrail.commands.compare_runs import CompareOptions, compare

    if not baseline_ref:
        raise click.UsageError("--baseline-ref is needed outside a GitLab merge request pipeline")
    done = compare(CompareOptions(
        files=files, baseline_ref=baseline_ref, repo=repo, remote=remote, branch=branch,
        baseline_commit=baseline_commit, window=baseline_window, min_effect=min_effect, fmt=fmt,
        fail_on_regression=fail_on_regression, fail_on_missing=fail_on_missing, confirm_suite=confirm_suite, confirm_times=confirm_times,
        confirm_out=confirm_out, json_path=json_path, markdown_path=markdown_path, junit_path=junit_path,
        metrics_path=metrics_path, report_url=report_url, webhook_url=webhook_url, cache=cache, fetch=fetch))
    click.echo(done.output, nl=False)
    for line in done.notices:
        click.echo(line, err=True)
    return done.exit_code


@cli.command("note")
@click.option("--comparison", "comparison_path", type=click.Path(dir_okay=False, path_type=Path),
              default=defaults.COMPARISON_PATH, show_default=True,
              help="The comparison document that `benchtrail compare --json` wrote.")
@click.option("--suite", default=None, help="The suite whose note to post (default: the only one compared).")
@click.option("--when", type=click.Choice(["always", "changed", "regressed"]), default="always",
              show_default=True, envvar="BENCHTRAIL_NOTE_WHEN", show_envvar=True,
              help="Post a new note always, only when something changed, or only on a regression; an "
                   "earlier note is updated whatever this says.")
@click.option("--dry-run", is_flag=True, help="Print the note instead of posting it.")
@click.option("--report-url", envvar="BENCHTRAIL_REPORT_URL", show_envvar=True,
              help="The report site's address, for links from the note to its pages (default: no links).")
@click.option("--mr-page", default=None, envvar="BENCHTRAIL_MR_PAGE", show_envvar=True,
              help="Where this job keeps the merge request's page (`benchtrail report --comparison`) among its "
                   "artifacts, e.g. benchtrail-report/mr/index.html: the note links to it (default: no link).")
@click.option("--gitlab-url", default=None, help="The GitLab server (default: from CI_API_V4_URL or CI_SERVER_URL).")
@click.option("--project", default=None, help="The project's ID or path (default: CI_PROJECT_ID).")
@click.option("--mr-iid", default=None, help="The merge request's number, the N of !N (default: CI_MERGE_REQUEST_IID).")
def note_command(comparison_path: Path, suite: str | None, when: str, dry_run: bool, report_url: str | None,
                 mr_page: str | None, gitlab_url: str | None, project: str | None, mr_iid: str | None) -> None:
    """Create or update this suite's note on the merge request (one note per suite).

    Needs a token with `api` scope in BENCHTRAIL_GITLAB_TOKEN or GITLAB_TOKEN (CI_JOB_TOKEN
    cannot write notes); without one, says so and exits 0.
    """
    from benchtrail.commands.note import NoteOptions, note

    click.echo(note(NoteOptions(comparison=comparison_path, suite=suite, when=when, dry_run=dry_run,
                                report_url=report_url, mr_page=mr_page, gitlab_url=gitlab_url, project=project,
                                mr_iid=mr_iid)))


class _WebUrlType(click.ParamType):
    """An absolute http(s) address (links in the site go there, so never ``javascript:``)."""

    name = "URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from benchtrail.report.links import web_url

        found = web_url(str(value))
        if found is None:
            self.fail(f"expected an http(s) address like https://gitlab.com/group/project, found {value!r}",
                      param, ctx)
        return found.rstrip("/")


@cli.command("report")
@_REPO
@_REMOTE
@_BRANCH
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default="public",
              show_default=True, help="Write the site (or the merge request page) into this folder; it is "
                                      "replaced at the end, never left half-written.")
@click.option("--title", default="Benchmarks", show_default=True, envvar="CI_PROJECT_TITLE", show_envvar=True,
              help="The site's title.")
@click.option("--project-url", type=_WebUrlType(), default=None, envvar="CI_PROJECT_URL", show_envvar=True,
              help="The project's GitLab address, for links to commits (default: the newest record's project URL).")
@click.option("--default-branch", default=None, envvar="CI_DEFAULT_BRANCH", show_envvar=True,
              help="The branch whose latest status the index shows (default: the newest record's branch).")
@click.option("--chart-cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              envvar="BENCHTRAIL_CHART_CACHE", show_envvar=True,
              help="Keep drawn charts in this folder, so that the next build draws only the changed ones "
                   "(default: .benchtrail-report-cache beside --out).")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              envvar="BENCHTRAIL_CACHE", show_envvar=True,
              help="Keep fetched records in this bare repository, so the next read fetches only new ones.")
@click.option("--fetch/--no-fetch", default=True, show_default=True,
              help="Fetch the results branch from the remote first, or read only the local copy.")
@click.option("--comparison", "comparison_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write one page for a merge request from this comparison document (`benchtrail compare "
                   "--json`) instead of the site; no results branch is read.")
def report_command(repo: Path, remote: str, branch: str, out_dir: Path, title: str, project_url: str | None,
                   default_branch: str | None, chart_cache: Path | None, cache: Path | None, fetch: bool,
                   comparison_path: Path | None) -> None:
    """Write the static report site of the results branch (or, with --comparison, an MR's page).

    Prints the path of the index page on stdout.
    """
    from benchtrail.commands.report import ReportOptions, report

    done = report(ReportOptions(out=out_dir, repo=repo, remote=remote, branch=branch, title=title,
                                project_url=project_url, default_branch=default_branch, cache=cache, fetch=fetch,
                                chart_cache=chart_cache, comparison=comparison_path))
    for line in done.notices:
        click.echo(line, err=True)
    click.echo(done.index)


@cli.command("demo")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
def demo_command(folder: Path | None) -> None:
    """See benchtrail work here, in FOLDER (default: ./benchtrail-demo, new or empty).

    Makes a project with a local remote and a results branch, runs and records five commits,
    compares a merge request that slows the model down, writes its note and the report site.
    Prints the path of the site's index.html and of the note on stdout.
    """
    from benchtrail.commands.demo import DemoOptions, demo

    done = demo(DemoOptions(folder=folder) if folder is not None else DemoOptions())
    for line in done.notices:
        click.echo(line, err=True)
    click.echo(done.index)
    click.echo(done.note)


def _formats_help() -> str:
    width = max(map(len, FORMATS))
    return "\b\nFORMAT is one of:\n" + "\n".join(f"  {name:<{width}}  {summary}" for name, summary in FORMATS.items())


@cli.command("import", epilog=_formats_help())
@click.argument("fmt", metavar="FORMAT", type=click.Choice(sorted(FORMATS)))
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--suite", required=True, help="The suite name the imported results get.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=defaults.OUT_DIR, show_default=True, envvar="BENCHTRAIL_OUT", show_envvar=True,
              help="Write the records into this folder.")
@click.option("--machine", default=None,
              help="Label of the machine class the results were measured on (default: $BENCHTRAIL_MACHINE).")
@click.option("--ref", default=None,
              help="The branch the results were measured on, for those that do not say; what makes them a "
                   "baseline for compare (default: $CI_DEFAULT_BRANCH, else the repository's default branch).")
@click.option("--hardware", type=click.Choice(["input", "here"]), default="input", show_default=True,
              help="The hardware class of the records: what the input says (a series of its own), or this "
                   "machine's, as `benchtrail run` records it (the history was measured on this machine class, "
                   "and new runs here compare with it).")
def import_command(fmt: str, paths: tuple[Path, ...], suite: str, out_dir: Path, machine: str | None,
                   ref: str | None, hardware: str) -> None:
    """Turn another tool's results (FORMAT, listed below) at PATHS into result records."""
    from benchtrail.commands.importing import ImportOptions, import_results

    for written in import_results(ImportOptions(fmt=fmt, paths=paths, suite=suite, out_dir=out_dir, machine=machine,
                                                ref=ref, hardware=hardware)):
        click.echo(written)


@cli.command("check-push")
@_REPO
@_REMOTE
@_BRANCH
def check_push_command(repo: Path, remote: str, branch: str) -> None:
    """Check that this job can push records to the results branch; if not, say what to grant."""
    from benchtrail.commands.check_push import check_push

    click.echo(check_push(repo, remote=remote, branch=branch))


def _report_bug(exc: BaseException) -> None:
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    click.echo(
        f"benchtrail {__version__}: internal error ({type(exc).__name__}): this is a bug, "
        "please report it with the traceback above.",
        err=True,
    )


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``benchtrail`` script."""
    return cli.main(args=argv, prog_name="benchtrail")
