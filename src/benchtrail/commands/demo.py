"""``benchtrail demo``: the whole flow on this machine, in a new folder, with nothing but benchtrail.

It plays GitLab with plain git: a bare repository stands for the project on the server and
a clone of it holds the example suite that ships with benchtrail (``benchtrail/example``,
the repository's ``bench/``: a small numpy MLP over a fixed, seeded dataset). Then it does
what the CI template would do: run the suite on a handful of commits of ``main`` (one run
each, with one BLAS thread, so that the whole demo takes about a minute) and record each
on the results branch of the bare repository; run a merge request's branch whose one
commit slows the model down (a few lines appended to the workload), compare it with its merge base
(confirming the suspects in pairs, as the compare job does) and write the note; and build
the report site from the results branch. The commands' own functions do the work, with
the same options objects as the command line.

Nothing outside the folder is changed: no GitLab, no Docker, no network. The demo's own
commits get an identity and dates of their own through git's environment, and git makes
them without the user's or the system's git configuration (a global ``commit.gpgsign``,
hook or default branch would otherwise change or stop them); ``record``, ``compare`` and
``report`` run git as they always do.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchtrail.errors import BenchtrailError
from benchtrail.gitlab.ci import CiContext
from benchtrail.results.gitrepo import GitRepo

if TYPE_CHECKING:
    from importlib.abc import Traversable

__all__ = ["DEMO_FOLDER", "MAX_COMMITS", "MR_BRANCH", "SLOWED", "DemoOptions", "DemoOutcome", "demo"]

#: the folder ``benchtrail demo`` makes in the working directory when given none
DEMO_FOLDER = Path("benchtrail-demo")
#: the branch of the merge request, whose commit makes ``mlp`` slower
MR_BRANCH = "slower-predict"
#: a benchmark the merge request slows down (it slows every ``mlp`` batch size), as the note
#: names it
SLOWED = "mlp[batch_size=8]"

#: the example suite that ships with benchtrail (the repository's ``bench/``, linked into the
#: package as ``benchtrail/example``): the demo's project gets a copy of it as ``bench/``
_EXAMPLE = "example"
#: one run of each benchmark a commit (the example suite asks for three): the history of the
#: commits gives the noise, and the demo stays within a minute
_RUNS = 1
#: the thread settings of the demo's runs, as a CI job's variables would set them: one
#: BLAS/OpenMP thread, since a model this small only loses time handing work between
#: threads, and far more of it on a busy machine (each record states them, environment.threads)
_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

#: the merge request's change, appended to the example's ``workload.py``: 2 ms more per call
#: of ``predict``, several times what it takes at any batch size, so that the demo's
#: regression stands out on any machine, however busy
_SLOWDOWN = """

# The merge request's change: predict takes 2 ms more a call.
import time

_predict = predict


def predict(model, batch):
    time.sleep(0.002)
    return _predict(model, batch)
"""

_README = """\
# A benchtrail demo project

Made by `benchtrail demo`. `bench/suite.toml` is the benchmark suite; the results branch
`benchtrail-results` lives in `../remote.git`, which plays the GitLab project. Try, here:

    benchtrail history
    benchtrail history --change-points
"""

#: the commits of ``main`` after the first one: (title, file, text); none changes the speed
_MAIN_CHANGES = (
    ("Describe the demo project", "README.md", _README + "\nThe suite's dataset is 512 rows of 256 features.\n"),
    ("Add a changelog", "CHANGES.md", "# Changes\n\n- The benchmark suite.\n"),
    ("Note the model's layers in the changelog", "CHANGES.md",
     "# Changes\n\n- The benchmark suite.\n- The model: 256-512-512-10, ReLU, softmax.\n"),
    ("Say how to read the history", "README.md",
     _README + "\nThe suite's dataset is 512 rows of 256 features.\n\n`benchtrail history --format csv` "
               "prints every run as CSV.\n"),
    ("Mention the report site in the changelog", "CHANGES.md",
     "# Changes\n\n- The benchmark suite.\n- The model: 256-512-512-10, ReLU, softmax.\n"
     "- The report site, from `benchtrail report`.\n"),
)
MAX_COMMITS = len(_MAIN_CHANGES) + 1


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    """Where to build the demo, and how long a history to give it."""

    #: where to build the demo: a new or empty folder
    folder: Path = DEMO_FOLDER
    #: commits of ``main`` to run and record, 2 to ``MAX_COMMITS``
    commits: int = 5


@dataclass(frozen=True)
class DemoOutcome:
    #: the report site's front page
    index: Path
    #: the merge request's note (Markdown)
    note: Path
    #: the comparison document the note was written from
    comparison: Path
    #: the paths added to the results branch, one per recorded commit of ``main``
    recorded: tuple[str, ...]
    #: the merge request's overall verdict (``regression`` when all went as meant)
    verdict: str
    #: lines for stderr: what was made where
    notices: tuple[str, ...]


#: no CI variables: every record's source comes from the demo's own git checkout, even
#: when the demo runs inside a CI job
_NO_CI = CiContext()


def demo(options: DemoOptions) -> DemoOutcome:
    """Build the demo in ``options.folder`` (refused unless new or empty) and return where
    its site and note are."""
    from benchtrail.console import progress

    if not 2 <= options.commits <= MAX_COMMITS:
        raise BenchtrailError(f"demo: commits: expected 2 to {MAX_COMMITS}, found {options.commits}")
    folder = _new_folder(options.folder)
    steps = options.commits + 3
    with _environment(_THREADS), progress(steps, "Demo") as bar:
        remote, project = _make_repositories(folder)
        clock = _Clock(options.commits + 1)
        _write_project(project)
        _commit(project, "Add the inference benchmark suite", clock)
        bar.advance(f"a project in {project} with its remote {remote}")
        recorded = []
        for n in range(options.commits):
            if n:
                title, name, text = _MAIN_CHANGES[n - 1]
                (project / name).write_text(text, encoding="utf-8")
                _commit(project, title, clock)
            recorded.append(_run_and_record(project, n + 1))
            bar.advance(f"main commit {n + 1}/{options.commits} run and recorded")
        comparison, verdict = _merge_request(project, folder, clock)
        bar.advance(f"merge request {MR_BRANCH} compared: {verdict}")
        index, mr_page = _site(project, folder, comparison)
        bar.advance(f"report site written to {index.parent}")
    notices = (f"Recorded {len(recorded)} runs of main on benchtrail-results in {remote}",
               f"Merge request {MR_BRANCH} (slows predict down by 2 ms a call): {verdict}; its page: {mr_page}",
               f"Try: cd {project} && benchtrail history --change-points")
    return DemoOutcome(index, folder / "note.md", comparison, tuple(recorded), verdict, notices)


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """``variables`` set in this process's environment, which the runs' workers inherit, and
    put back as they were afterwards."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _new_folder(folder: Path) -> Path:
    """``folder``, absolute, made when missing; a ``BenchtrailError`` when it is a file or
    holds anything: the demo never mixes its repositories with other files."""
    folder = folder.absolute()
    if folder.exists() and not folder.is_dir():
        raise BenchtrailError(f"{folder}: not a folder: the demo needs a new or empty folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise BenchtrailError(f"{folder}: the folder is not empty: give the demo a new or empty folder "
                              "(or remove this one)")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class _Clock:
    """The demo's commit dates: one an hour, the last an hour ago, whole seconds (git's
    ``<seconds> +0000``), so that the history reads in commit order and ends now."""

    def __init__(self, commits: int) -> None:
        self._next = int(time.time()) // 60 * 60 - commits * 3600

    def tick(self) -> str:
        date = f"{self._next} +0000"
        self._next += 3600
        return date


def _git_env(date: str | None = None) -> dict[str, str]:
    """The demo's own identity and ``date``, and no user or system git configuration."""
    from benchtrail.results.gitrepo import identity_env

    return {**identity_env("benchtrail demo", "demo@benchtrail.invalid", date),
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def _make_repositories(folder: Path) -> tuple[Path, Path]:
    """A bare repository (the GitLab project) and an empty clone of it with ``main``."""
    from benchtrail.results.gitrepo import open_bare

    remote, project = folder / "remote.git", folder / "project"
    bare = open_bare(remote)
    bare.run("symbolic-ref", "HEAD", "refs/heads/main", env=_git_env())
    bare.run("init", "--quiet", "--initial-branch=main", str(project), env=_git_env())
    _repo(project).run("remote", "add", "origin", str(remote), env=_git_env())
    return remote, project


def _repo(project: Path) -> GitRepo:
    from benchtrail.results.gitrepo import open_repo

    return open_repo(project)


def _write_project(project: Path) -> None:
    """The example suite as ``bench/`` (its suite file, workload, dataset and the script
    that made the dataset), a README and a ``.gitignore`` for the outputs."""
    from importlib.resources import files

    _copy_tree(files("benchtrail") / _EXAMPLE, project / "bench")
    (project / "README.md").write_text(_README, encoding="utf-8")
    (project / ".gitignore").write_text("benchtrail-out/\nbenchtrail-report/\n", encoding="utf-8")


def _copy_tree(source: Traversable, target: Path) -> None:
    """Copy the files under ``source`` into the new folder ``target``, leaving out Python's
    caches (a checkout that ran the suite has them)."""
    target.mkdir(parents=True)
    for entry in source.iterdir():
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            _copy_tree(entry, target / entry.name)
        else:
            (target / entry.name).write_bytes(entry.read_bytes())


def _commit(project: Path, title: str, clock: _Clock) -> None:
    """Commit everything in ``project`` as ``title`` and push the branch to ``origin``, as
    a pipeline would start after the push."""
    repo = _repo(project)
    env = _git_env(clock.tick())
    repo.run("add", "--all", env=env)
    repo.run("commit", "--quiet", "--no-verify", "-m", title, env=env)
    repo.run("push", "--quiet", "--no-verify", "--set-upstream", "origin", "HEAD", env=env)


def _run_and_record(project: Path, n: int) -> str:
    """Run the suite at the checked-out commit and record it on the results branch of
    ``origin``; the path it got there."""
    from benchtrail.commands.record_results import RecordOptions, record
    from benchtrail.commands.run import RunOptions, run

    done = run(RunOptions(suite=project / "bench" / "suite.toml", out_dir=project / "benchtrail-out" / str(n),
                          runs=_RUNS), ci=_NO_CI)
    kept = record(RecordOptions(files=[done.path], repo=project), ci=_NO_CI)
    return kept.recorded.added[0]


def _merge_request(project: Path, folder: Path, clock: _Clock) -> tuple[Path, str]:
    """The merge request: a branch whose commit slows ``predict`` down, run as merge
    request !1 and compared with its merge base, confirming the suspects in pairs. The
    comparison document and the note go into ``folder``; the path of the first and the
    verdict."""
    from benchtrail.commands.compare_runs import CompareOptions, compare
    from benchtrail.commands.run import RunOptions, run

    repo = _repo(project)
    base = repo.run("rev-parse", "HEAD").strip()
    repo.run("switch", "--quiet", "-c", MR_BRANCH, env=_git_env())
    with (project / "bench" / "workload.py").open("a", encoding="utf-8") as workload:
        workload.write(_SLOWDOWN)
    _commit(project, "Slow predict down by 2 ms a call (the demo's regression)", clock)
    suite = project / "bench" / "suite.toml"
    done = run(RunOptions(suite=suite, out_dir=project / "benchtrail-out" / "mr", runs=_RUNS),
               ci=CiContext(mr_iid="1", source={"mr_iid": "1"}))
    comparison = folder / "comparison.json"
    compared = compare(CompareOptions(
        files=[done.path], baseline_ref="main", baseline_commit=base, repo=project, confirm_suite=suite,
        confirm_out=project / "benchtrail-report" / "confirm", json_path=comparison,
        markdown_path=folder / "note.md", report_url=(folder / "public").as_uri()), ci=_NO_CI)
    return comparison, compared.comparison.verdict


def _site(project: Path, folder: Path, comparison: Path) -> tuple[Path, Path]:
    """The report site of the results branch in ``folder/public`` and the merge request's
    page in ``folder/mr``; the two ``index.html``."""
    from benchtrail.commands.report import ReportOptions, report

    site = report(ReportOptions(out=folder / "public", repo=project, title="benchtrail demo",
                                default_branch="main"), ci=_NO_CI)
    page = report(ReportOptions(out=folder / "mr", comparison=comparison, title="benchtrail demo"), ci=_NO_CI)
    return site.index, page.index
