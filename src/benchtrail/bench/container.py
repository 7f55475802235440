"""Run a suite inside a benchmark image through the Docker Engine API (docker SDK).

``run_in_image`` starts ``benchtrail run`` in a container of the image, with the
suite's workspace (its git checkout, else its folder) bind-mounted read-only at
``/workspace``, streams the container's output, copies the record out and adds what
only the outside can see: the image reference and digest in ``environment.image``, and
the container's peak memory as the metric ``container_peak_memory_mb`` on every
benchmark (the schema's metric map is open; the environment block is not). With no
suite, the image runs the suite baked into it (its ``BENCHTRAIL_SUITE``).

The peak is read inside the container when the run ends, from the cgroup's
``memory.peak`` (cgroup v2, Linux 5.19 and later) or ``memory.max_usage_in_bytes``
(cgroup v1); where neither exists it is the largest usage seen in the engine's stats,
sampled about once a second. The container uses the host's network, so a suite reaches
a server on the host's loopback as it would without a container.
"""

from __future__ import annotations

import codecs
import dataclasses
import io
import logging
import os
import sys
import tarfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from benchtrail.bench.runner import WorkerCrash
from benchtrail.bench.source import describe_source
from benchtrail.bench.suite import DEFAULT_SUITE
from benchtrail.errors import EXIT_BUG, DockerError, StoreError
from benchtrail.results.gitrepo import LOOKUP_TIMEOUT_S, open_repo
from benchtrail.results.model import Image, Metric, Record, Source
from benchtrail.results.record import dump_record, parse_record

__all__ = ["PULL_POLICIES", "container_environment", "parse_gpus", "run_in_image", "workspace_of"]

log = logging.getLogger(__name__)

PULL_POLICIES = ("missing", "always", "never")
_WORKSPACE = "/workspace"
_OUT = "/tmp/benchtrail-out"
_PEAK_FILE = ".container-peak-memory"
_MB = 1024 * 1024  # the unit "MB" of the other memory metrics: MiB
#: Runs benchtrail, then keeps the cgroup's peak memory next to the record.
_SCRIPT = f"""\
benchtrail "$@"; rc=$?
mkdir -p {_OUT}
for f in /sys/fs/cgroup/memory.peak /sys/fs/cgroup/memory/memory.max_usage_in_bytes; do
    if [ -r "$f" ]; then cat "$f" > {_OUT}/{_PEAK_FILE} 2>/dev/null; break; fi
done
exit $rc
"""
# The variables ``benchtrail run`` reads (gitlab/ci.py): the record's source, the machine
# label and the job's image. Nothing else passes without ``--env``: the image may be
# anyone's, and CI_*/BENCHTRAIL_* hold tokens, webhook URLs and host paths (the suite and
# --out reach the container as arguments).
_PASSED = frozenset({
    "CI_COMMIT_SHA", "CI_COMMIT_REF_NAME", "CI_COMMIT_TIMESTAMP", "CI_COMMIT_TITLE", "CI_PIPELINE_ID",
    "CI_JOB_ID", "CI_PIPELINE_URL", "CI_PROJECT_URL", "CI_MERGE_REQUEST_IID",
    "CI_RUNNER_TAGS", "CI_JOB_IMAGE", "BENCHTRAIL_MACHINE", "BENCHTRAIL_RUNS", "BENCHTRAIL_WORKER_TIMEOUT_S",
})


def parse_gpus(value: str) -> tuple[int, list[str] | None]:
    """``--gpus`` as docker's CLI takes it: ``all``, a count, or ``device=ID[,ID...]``.

    Returns ``(count, device_ids)`` for a device request; -1 means every GPU.
    Raises ``ValueError`` with what was expected.
    """
    text = value.strip()
    if text == "all":
        return -1, None
    if text.isdigit() and int(text) >= 1:
        return int(text), None
    if text.startswith("device="):
        ids = [part.strip() for part in text[len("device="):].split(",")]
        if ids and all(ids):
            return 0, ids
    raise ValueError(f"expected all, a number of GPUs >= 1, or device=ID[,ID...], found {value!r}")


def container_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``environ`` handed to the container: those of ``_PASSED``
    that are set. Their values are never logged."""
    return {name: value for name, value in environ.items() if name in _PASSED}


def workspace_of(suite_path: Path) -> Path:
    """The folder mounted into the container: the git checkout holding the suite, else
    the suite's own folder."""
    folder = suite_path.resolve().parent
    try:
        top = open_repo(folder).run("rev-parse", "--show-toplevel", timeout_s=LOOKUP_TIMEOUT_S).strip()
    except StoreError:  # not in a checkout, no git here, or git took too long
        return folder
    return Path(top).resolve() if top else folder


def _reason(exc: BaseException) -> str:
    """The innermost OS-level reason in an exception chain ("Connection refused"), else its text."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, OSError) and item.strerror:
            return item.strerror
        todo.extend([item.__cause__, item.__context__, *item.args])
    text = str(getattr(exc, "explanation", None) or exc)
    return text if len(text) <= 300 else text[:297] + "..."


def _client() -> Any:
    try:
        import docker
    except ImportError:  # pragma: no cover - a declared dependency
        raise DockerError("the docker Python package is not installed: pip install docker") from None
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        return docker.from_env()
    except docker.errors.DockerException as exc:
        raise DockerError(f"cannot reach the Docker engine at {where}: {_reason(exc)} "
                          "(start dockerd, or point DOCKER_HOST at a running engine)") from None


def _image(client: Any, reference: str, pull: str, output: TextIO) -> Any:
    import docker

    if pull not in PULL_POLICIES:
        raise ValueError(f"pull must be one of {PULL_POLICIES}, not {pull!r}")
    if pull != "always":
        try:
            return client.images.get(reference)
        except docker.errors.ImageNotFound:
            if pull == "never":
                raise DockerError(f"image {reference}: not found on the Docker engine, and --pull never "
                                  "forbids pulling it (build it, or pull it first)") from None
        except docker.errors.APIError as exc:
            raise DockerError(f"image {reference}: {_reason(exc)}") from None
    output.write(f"Pulling {reference}\n")
    output.flush()
    try:
        return client.images.pull(reference)
    except docker.errors.APIError as exc:
        missing = "not found on the Docker engine, and " if pull == "missing" else ""
        raise DockerError(f"image {reference}: {missing}pulling it failed: {_reason(exc)}") from None


def _repository(reference: str) -> str:
    name = reference.split("@", 1)[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[:colon] if colon > slash else name


def _digest(image: Any, reference: str) -> str:
    """The registry digest (``sha256:...``) of ``image`` as named by ``reference``; a
    locally built image has none, and its ID (also ``sha256:...``) stands in."""
    if "@sha256:" in reference:
        return reference.split("@", 1)[1]
    digests = image.attrs.get("RepoDigests") or []
    wanted = _repository(reference)
    for candidate in digests:
        repo, _, digest = candidate.partition("@")
        if repo == wanted or repo.rsplit("/", 1)[-1] == wanted.rsplit("/", 1)[-1]:
            return digest
    return digests[0].partition("@")[2] if digests else image.id


def _device_requests(gpus: str | None) -> list[Any] | None:
    if gpus is None:
        return None
    from docker.types import DeviceRequest

    try:
        count, ids = parse_gpus(gpus)
    except ValueError as exc:
        raise DockerError(f"gpus: {exc}") from None
    return [DeviceRequest(count=count, device_ids=ids, capabilities=[["gpu"]])]


class _StatsPeak(threading.Thread):
    """The largest memory usage in the engine's stats: the fallback peak."""

    def __init__(self, container: Any) -> None:
        super().__init__(name="benchtrail-container-stats", daemon=True)
        self._container = container
        self.peak_bytes = 0

    def run(self) -> None:
        import docker

        try:
            for stats in self._container.stats(stream=True, decode=True):
                memory = stats.get("memory_stats") or {}
                self.peak_bytes = max(self.peak_bytes, memory.get("max_usage") or 0, memory.get("usage") or 0)
        # The container went away (requests' errors are OSErrors): the figures end there.
        except (docker.errors.DockerException, OSError, ValueError):
            return


def _stream(container: Any, output: TextIO) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    # stdout carries only the summary table, which the caller prints from the record.
    for chunk in container.logs(stream=True, follow=True, stdout=False, stderr=True):
        output.write(decoder.decode(chunk))
        output.flush()
    output.write(decoder.decode(b"", final=True))


def _files(container: Any) -> dict[str, bytes]:
    """The files the run left in the container's output folder, by name."""
    import docker

    try:
        chunks, _ = container.get_archive(_OUT)
        data = b"".join(chunks)
    except docker.errors.NotFound:
        return {}
    found = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive.getmembers():
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is not None:
                found[Path(member.name).name] = handle.read()
    return found


def _invocation(suite: Path | None, runs: int | None, machine: str | None) -> dict[str, Any]:
    """The container's command, mounts and working folder for ``benchtrail run``."""
    command = ["run", "--out", _OUT]
    if runs is not None:
        command += ["--runs", str(runs)]
    if machine:
        command += ["--machine", machine]
    if suite is None:  # the image's own suite: its BENCHTRAIL_SUITE
        return {"command": command}
    workspace = workspace_of(suite)
    command.insert(1, f"{_WORKSPACE}/{suite.relative_to(workspace).as_posix()}")
    return {"command": command, "working_dir": _WORKSPACE,
            "volumes": {str(workspace): {"bind": _WORKSPACE, "mode": "ro"}}}


def _run(client: Any, image_id: str, reference: str, gpus: str | None, output: TextIO,
         invocation: dict[str, Any], variables: Mapping[str, str],
         named: Mapping[str, str]) -> tuple[dict[str, bytes], int]:
    """Run the container to its end; return the files it wrote and its peak memory in bytes."""
    import docker

    passed = {**container_environment(variables), **named}
    log.info("Running %s in %s, with %d CI variables and %s", " ".join(invocation["command"]),
             reference, len(passed) - len(named), ", ".join(sorted(named)) or "no other")
    environment = {
        **passed,
        "PYTHONDONTWRITEBYTECODE": "1",  # the workspace is read-only
        # The checkout belongs to another user than the container's: let git read it.
        "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*",
    }
    try:
        container = client.containers.create(
            image_id, entrypoint=["/bin/sh", "-c", _SCRIPT, "benchtrail"], environment=environment,
            network_mode="host", device_requests=_device_requests(gpus),
            labels={"org.benchtrail.image": reference}, **invocation,
        )
    except docker.errors.APIError as exc:
        raise DockerError(f"image {reference}: cannot create the container: {_reason(exc)}") from None
    try:
        try:
            container.start()
        except docker.errors.APIError as exc:
            hint = (" (--gpus needs the NVIDIA Container Toolkit on the Docker host)"
                    if gpus is not None and "device driver" in _reason(exc) else "")
            raise DockerError(f"image {reference}: cannot start the container: {_reason(exc)}{hint}") from None
        sampler = _StatsPeak(container)
        sampler.start()
        _stream(container, output)
        status = container.wait()["StatusCode"]
        container.reload()
        if container.attrs.get("State", {}).get("OOMKilled"):
            raise DockerError(f"image {reference}: the container ran out of memory (OOMKilled) "
                              "while running the suite")
        if status == EXIT_BUG:  # the benchtrail inside found a bug of its own: so is it out here
            raise WorkerCrash(f"image {reference}: benchtrail run failed with an internal error in the container "
                              "(its traceback is above)")
        if status != 0:
            raise DockerError(f"image {reference}: benchtrail run exited with code {status} in the "
                              "container (its output is above)")
        files = _files(container)
    finally:  # also on Ctrl-C: no container is left behind
        try:
            container.remove(force=True)
        except docker.errors.APIError:
            log.warning("could not remove container %s", container.short_id)
    # The stats stream outlives the container by a few seconds: read it only when needed.
    return files, _peak_bytes(files.get(_PEAK_FILE)) or sampler.peak_bytes


def run_in_image(
    suite_path: str | Path | None,
    out_dir: str | Path,
    image: str,
    *,
    gpus: str | None = None,
    pull: str = "missing",
    runs: int | None = None,
    machine: str | None = None,
    output: TextIO | None = None,
    variables: Mapping[str, str] | None = None,
    named: Mapping[str, str] | None = None,
) -> tuple[Path, Record]:
    """Run ``benchtrail run`` for ``suite_path`` in a container of ``image``; write the
    record, with the image and the container's peak memory added, into ``out_dir``.

    ``suite_path`` ``None`` runs ``bench/suite.toml`` of the current folder when there is
    one, else the suite baked into the image. ``gpus`` is docker's
    ``--gpus`` value; ``pull`` is ``missing``, ``always`` or ``never``. The container's
    output goes to ``output`` (default: stderr). ``variables`` are the job's CI variables,
    of which those in ``_PASSED`` reach the benchtrail inside; ``named`` are
    variables the user asked to pass as they are (``--env``: thread counts such as
    ``OMP_NUM_THREADS``, which change inference speed). Returns the record's path and
    the record.
    """
    output = output if output is not None else sys.stderr
    suite = None
    if suite_path is None and Path(DEFAULT_SUITE).is_file():
        suite_path = DEFAULT_SUITE
    elif suite_path is None:
        log.warning("No suite given and no %s here: running the suite baked into %s", DEFAULT_SUITE, image)
    if suite_path is not None:
        suite = Path(suite_path).resolve()
        if not suite.is_file():
            raise DockerError(f"{suite_path}: suite file not found")
    invocation = _invocation(suite, runs, machine)
    client = _client()
    try:
        found = _image(client, image, pull, output)
        files, peak = _run(client, found.id, image, gpus, output, invocation, variables or {}, named or {})
    finally:
        client.close()

    records = sorted(name for name in files if name.endswith(".json"))
    if len(records) != 1:
        raise DockerError(f"image {image}: expected one record in {_OUT} of the container, "
                          f"found {len(records)}")
    record = parse_record(files[records[0]], f"{image}:{_OUT}/{records[0]}")
    environment = dataclasses.replace(record.environment, image=Image(image, _digest(found, image)))
    benchmarks = record.benchmarks
    if peak:
        container = Metric("MB", "lower", round(peak / _MB, 1))
        benchmarks = tuple(dataclasses.replace(entry, metrics={**entry.metrics, "container_peak_memory_mb": container})
                           for entry in benchmarks)
    else:
        log.warning("image %s: the container's peak memory could not be read", image)
    source = record.source
    if suite is not None:
        # git may be missing from the image: what the host sees of the checkout fills the gaps.
        seen = describe_source(suite.parent)
        source = Source(**{key: getattr(source, key) or getattr(seen, key) for key in source.to_json()})
    record = record.replace(environment=environment, benchmarks=benchmarks, source=source)
    path = dump_record(record, Path(out_dir) / record.filename())
    return path, record


def _peak_bytes(data: bytes | None) -> int:
    try:
        return int(data.decode().strip()) if data else 0
    except ValueError:  # "max" or garbage: no figure
        return 0
