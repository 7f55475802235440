"""The one way benchtrail runs git: redacts secrets, turns git's failures into
``StoreError`` and ends every git that outlives its deadline.

Tokens reach git only through the environment of its process (``credentials_env``); every
message that leaves this module has them replaced by ``***``, whatever git printed.

Deadlines live here and nowhere else. Network commands (fetch, push, ls-remote) get
``network_timeout_s()`` (120 s, or ``BENCHTRAIL_NETWORK_TIMEOUT``) unless a caller gives its own, and every git gets libcurl's
low-speed limit through the environment, so that git itself gives up on a stalled HTTP
remote, lazy fetches of a partial clone included. Local plumbing has no deadline unless
a caller sets one: reading 100,000 records is slow, not stuck.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from benchtrail.deadlines import network_timeout_s
from benchtrail.errors import StoreError

__all__ = [
    "LOOKUP_TIMEOUT_S",
    "LOW_SPEED_LIMIT_BPS",
    "LOW_SPEED_TIME_S",
    "GitRepo",
    "GitResult",
    "RemoteAccess",
    "credentials_env",
    "identity_env",
    "open_bare",
    "open_repo",
    "redact",
    "remote_access",
    "strip_credentials",
]

#: Deadline of a quick question about a checkout that must not hold up a benchmark run
#: (which commit, which top folder).
LOOKUP_TIMEOUT_S = 10.0
#: git gives up on an HTTP transfer slower than this many bytes a second for
#: ``LOW_SPEED_TIME_S`` (``GIT_HTTP_LOW_SPEED_*``): only a stall, since the keep-alive
#: packets of a server that is busy (packing, running hooks) keep a transfer above it.
LOW_SPEED_LIMIT_BPS = 1
LOW_SPEED_TIME_S = 30

_NETWORK_COMMANDS = frozenset({"fetch", "push", "ls-remote"})
_NO_GIT = "git is not installed here: install git (the job image needs it to record)"

_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def strip_credentials(url: str) -> str:
    """``url`` without ``user:password@``."""
    return _CREDENTIALS.sub("", url)


#: a credential helper that answers git's "get" with what the environment holds (git runs
#: it with ``sh -c``: its arguments hold this text, never the token)
_CREDENTIAL_HELPER = ('!f() { test "$1" = get && printf "username=%s\\npassword=%s\\n" '
                      '"$BENCHTRAIL_GIT_USERNAME" "$BENCHTRAIL_GIT_PASSWORD"; }; f')


def credentials_env(url: str) -> tuple[str, dict[str, str] | None]:
    """``url`` without its credentials, and the environment that hands them to git: a
    credential helper in ``GIT_CONFIG_*`` (the only one: an empty value first clears any
    other) that reads them from two variables. The token then appears in no process's
    arguments (``ps`` on a shared runner: a URL with the token, even one git rewrites
    itself, reaches the arguments of ``git remote-http`` and ``git send-pack``) and in no
    config file, and git still says "Authentication failed" for a wrong one."""
    plain = strip_credentials(url)
    if plain == url:
        return url, None
    userinfo = url.split("://", 1)[1].split("@", 1)[0]
    user, _, password = userinfo.partition(":")
    return plain, {"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "credential.helper", "GIT_CONFIG_VALUE_0": "",
                   "GIT_CONFIG_KEY_1": "credential.helper", "GIT_CONFIG_VALUE_1": _CREDENTIAL_HELPER,
                   "BENCHTRAIL_GIT_USERNAME": unquote(user), "BENCHTRAIL_GIT_PASSWORD": unquote(password)}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URL credentials and the given secrets replaced by ``***``."""
    text = _CREDENTIALS.sub("***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass(frozen=True)
class RemoteAccess:
    """Where to fetch from and push to; ``push_url`` may carry a token, never shown."""

    name: str
    push_url: str
    secrets: tuple[str, ...] = field(default=(), repr=False)
    #: git configuration passed through the environment (never argv or files), e.g. the
    #: credentials a cache repository needs to fetch from the project's remote.
    env: dict[str, str] | None = field(default=None, repr=False)

    @property
    def shown(self) -> str:
        return redact(self.push_url, self.secrets)

    def __repr__(self) -> str:  # a logged or printed RemoteAccess shows no token
        return f"RemoteAccess(name={self.name!r}, push_url={self.shown!r})"


def remote_access(remote: str, push_url: str | None = None, secrets: tuple[str, ...] = ()) -> RemoteAccess:
    """Where records of ``remote`` are read from and pushed to: ``push_url`` (in GitLab CI,
    this project's HTTPS URL with a token in it; see ``gitlab.ci.CiContext.push_url``) for
    the remote ``origin``, else the remote as configured. ``secrets`` are redacted from
    every message."""
    if push_url and remote == "origin":
        return RemoteAccess(remote, push_url, secrets)
    return RemoteAccess(remote, remote, secrets)


def identity_env(name: str | None = None, email: str | None = None, date: str | None = None) -> dict[str, str]:
    """The author and committer of a commit benchtrail writes: ``name`` and ``email`` (the
    GitLab user who started the job), else ``benchtrail``; ``date`` (git's ``<seconds>
    <offset>``) fixes both dates, for a commit that must come out the same every time."""
    name = name or "benchtrail"
    email = email or "benchtrail@localhost"
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
           "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    if date is not None:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return env


@dataclass(frozen=True)
class GitResult:
    """What a git command left: its exit status and its output, decoded as UTF-8 (bytes
    that are not UTF-8 kept as surrogate escapes, so paths round-trip back into git)."""

    status: int
    stdout: str
    stderr: str


class GitRepo:
    """A repository, and the one runner of git in it.

    git is started through GitPython's command wrapper (its environment forces English
    messages, which the callers match), then waited for here, with a deadline."""

    def __init__(self, repo: Any, secrets: tuple[str, ...] = ()) -> None:
        self.repo = repo  # a GitPython ``Repo``
        self.secrets = secrets

    @property
    def git_dir(self) -> Path:
        return Path(self.repo.git_dir)

    @property
    def folder(self) -> Path:
        """Where git runs: the working tree, or the repository itself when it is bare."""
        return Path(self.repo.working_dir)

    def run(self, *args: str, input_text: str | None = None, env: dict[str, str] | None = None,
            what: str | None = None, timeout_s: float | None = None) -> str:
        """Run ``git ARGS`` and return stdout; a failure is a ``StoreError`` saying ``what``
        failed with git's own reason, secrets redacted. Options as for ``result``."""
        done = self.result(*args, input_text=input_text, env=env, what=what, timeout_s=timeout_s)
        if done.status != 0:
            raise StoreError(f"{what or 'git ' + _command(args)} failed: {self.reason(done)}")
        return done.stdout

    def result(self, *args: str, input_text: str | None = None, env: dict[str, str] | None = None,
               what: str | None = None, timeout_s: float | None = None) -> GitResult:
        """Run ``git ARGS`` to its end and return its status and output, whatever the status.

        ``env`` adds to the environment; ``input_text`` is git's stdin. ``timeout_s`` is the
        deadline (``None``: ``network_timeout_s()`` for a network command, none otherwise): a
        git still running then is killed with every process it started, and the
        ``StoreError`` says "[<what> failed: ]git <cmd> gave no answer within N s"."""
        deadline = timeout_s if timeout_s is not None else (
            network_timeout_s(StoreError) if _command(args) in _NETWORK_COMMANDS else None)
        process = self._start(args, subprocess.PIPE if input_text is not None else None, env)
        data = input_text.encode("utf-8", "surrogateescape") if input_text is not None else None
        # A timer, not communicate(timeout=): that one polls for git's exit with time.sleep,
        # waking up for nothing (and meeting the tests that replace the back-off's sleep).
        late = threading.Event()

        def give_up() -> None:
            late.set()
            _kill_tree(process)

        timer = threading.Timer(deadline, give_up) if deadline is not None else None
        started = time.monotonic()
        try:
            if timer is not None:
                timer.start()
            out, err = process.communicate(data)
        except BaseException:  # Ctrl-C, or a signal turned into an exception: no git outlives us
            _kill(process)
            raise
        finally:
            if timer is not None:
                timer.cancel()
        # past the deadline is late even when the timer had no chance to fire first
        if late.is_set() or (deadline is not None and time.monotonic() - started > deadline):
            message = f"git {_command(args)} gave no answer within {deadline:g} s"
            raise StoreError(redact(f"{what} failed: {message}" if what else message, self.secrets))
        return GitResult(process.returncode, _text(out), _text(err))

    @contextlib.contextmanager
    def stream(self, *args: str, input_text: str) -> Iterator[IO[bytes]]:
        """Run ``git ARGS`` on ``input_text`` and yield its stdout to read as it comes: one
        process for any number of objects (``cat-file --batch``). stdin is a file, so a
        large input cannot deadlock against unread output. No deadline: the reader sets
        the pace. Leaving early (an exception, a generator closed) kills git."""
        with tempfile.TemporaryFile() as stdin:
            stdin.write(input_text.encode("utf-8", "surrogateescape"))
            stdin.seek(0)
            process = self._start(args, stdin, None)
        try:
            yield process.stdout
        except BaseException:
            _kill(process)
            raise
        process.communicate()

    def reason(self, done: GitResult) -> str:
        """git's own words for a failed command: its first ``fatal:`` or ``error:`` line
        (the last ones are often advice such as "and the repository exists."), redacted."""
        lines = [line.strip() for line in done.stderr.splitlines()]
        lines = [line for line in lines if line]
        errors = [line for line in lines if line.startswith(("fatal:", "error:"))
                  and not line.startswith("error: failed to push some refs")]
        text = errors[0] if errors else lines[-1] if lines else f"exit code {done.status}"
        return redact(text.removeprefix("fatal: ").removeprefix("error: ").strip(), self.secrets)

    def rev(self, ref: str) -> str | None:
        """The commit ``ref`` points to, or ``None`` when there is no such ref."""
        done = self.result("rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
        return (done.stdout.strip() or None) if done.status == 0 else None

    def _start(self, args: Sequence[str], stdin: Any, env: dict[str, str] | None) -> Any:
        """``git ARGS`` started, as GitPython's process wrapper (which kills git if it is
        dropped while running); git's own stall detection is on unless the user set theirs."""
        import git

        stall = {name: os.environ.get(name) or str(value) for name, value in (
            ("GIT_HTTP_LOW_SPEED_LIMIT", LOW_SPEED_LIMIT_BPS), ("GIT_HTTP_LOW_SPEED_TIME", LOW_SPEED_TIME_S))}
        try:
            return self.repo.git.execute(["git", *args], istream=stdin, env={**stall, **(env or {})},
                                         as_process=True)
        except git.GitCommandNotFound:  # git left the PATH after GitPython found it
            raise StoreError(_NO_GIT) from None


def _command(args: Sequence[str]) -> str:
    """The git command in ``args`` (``fetch`` in ``-c k=v fetch ...``)."""
    rest = iter(args)
    for arg in rest:
        if arg in ("-c", "-C"):
            next(rest, None)
        elif not arg.startswith("-"):
            return arg
    return "git"


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", "surrogateescape")


def _kill_tree(process: Any) -> None:
    """Kill git and every process it started (a remote helper holding the connection,
    ssh, index-pack): their pipes close, and whoever reads them sees the end. git shares
    benchtrail's process group rather than having its own, so that a job's cancel (a
    signal to the group) and a terminal's Ctrl-C and password prompts still reach it;
    its descendants are found in /proc instead."""
    pids = _descendants(process.pid)  # before the kill: then their parent is still git
    process.kill()
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _kill(process: Any) -> None:
    """``_kill_tree``, then reap git without reading what is left in its pipes."""
    _kill_tree(process)
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    process.proc.wait()  # the Popen's own wait: GitPython's raises for the kill's status


def _descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs, from /proc (Linux); none elsewhere."""
    try:
        entries = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return []
    children: dict[int, list[int]] = {}
    for entry in entries:
        try:
            stat = Path("/proc", entry, "stat").read_bytes()
        except OSError:  # ended meanwhile
            continue
        parent = int(stat[stat.rindex(b")") + 2:].split()[1])  # "pid (comm) state ppid ..."
        children.setdefault(parent, []).append(int(entry))
    found: list[int] = []
    parents = [pid]
    while parents:
        for child in children.get(parents.pop(), ()):
            found.append(child)
            parents.append(child)
    return found


def _gitpython() -> Any:
    try:
        import git
    except ImportError:  # GitPython refuses to import when the git executable is missing
        raise StoreError(_NO_GIT) from None
    return git


def open_repo(path: str | Path, secrets: tuple[str, ...] = ()) -> GitRepo:
    """The git repository holding ``path``; ``StoreError`` when there is none, or no git."""
    git = _gitpython()
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise StoreError(f"{path}: not inside a git repository (use --repo)") from None
    return GitRepo(repo, secrets)


def open_bare(path: str | Path, secrets: tuple[str, ...] = ()) -> GitRepo:
    """The bare repository at ``path``, made (with its folders) when the folder is missing or
    empty; ``StoreError`` for a folder that holds other files (``--cache .`` must not turn a
    project into a repository) or that cannot be written."""
    git = _gitpython()
    path = Path(path)
    try:
        if not (path / "HEAD").exists():
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                raise StoreError(f"{path}: not a benchtrail cache (a bare git repository) and not empty: "
                                 "give a new or empty folder")
            path.mkdir(parents=True, exist_ok=True)
            git.Repo.init(path, bare=True)
        return GitRepo(git.Repo(path), secrets)
    except (OSError, git.GitCommandError, git.InvalidGitRepositoryError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[-1]
        raise StoreError(f"{path}: cannot use as the cache: {reason}") from None
