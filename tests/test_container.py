"""Running a suite in an image: what needs no Docker engine (tests/e2e/test_image.py runs one).

An absent engine is real here: DOCKER_HOST points at a socket path where nothing
listens, or at a socket nobody accepts on.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from benchtrail.bench import container
from benchtrail.bench.container import (
    container_environment,
    parse_gpus,
    run_in_image,
    workspace_of,
)
from benchtrail.cli import cli
from benchtrail.errors import DockerError
from benchtrail.gitlab import ci as ci_module
from benchtrail.gitlab.ci import read_ci

SUITE = '[suite]\nname = "demo"\n[[benchmark]]\nname = "noop"\ntarget = "workload:noop"\n'


@pytest.fixture
def no_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """DOCKER_HOST at a socket path where no engine listens."""
    where = f"unix://{tmp_path}/missing/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", where)
    return where


def test_a_missing_engine_is_one_docker_error(no_engine: str, write_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    suite = write_suite(SUITE)
    with pytest.raises(DockerError) as caught:
        run_in_image(suite, tmp_path / "out", "benchtrail:latest")
    assert caught.value.problems == (
        (f"cannot reach the Docker engine at {no_engine}: No such file or directory "
         "(start dockerd, or point DOCKER_HOST at a running engine)"),
    )
    assert caught.value.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_an_engine_that_refuses_is_named_with_its_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         write_suite) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX) as bound:  # bound, never listening: connect is refused
        bound.bind(str(path))
        monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
        with pytest.raises(DockerError, match=f"at unix://{path}: Connection refused"):
            run_in_image(write_suite(SUITE), tmp_path / "out", "benchtrail:latest")


def test_cli_without_engine_exits_2_with_one_line(no_engine: str, write_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    suite = write_suite(SUITE)
    done = subprocess.run(
        [sys.executable, "-m", "benchtrail", "run", str(suite), "--image", "benchtrail:latest",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=os.environ.copy(), check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"Error: cannot reach the Docker engine at {no_engine}: No such file or directory " \
                          "(start dockerd, or point DOCKER_HOST at a running engine)\n"


def test_a_missing_suite_file_is_named_before_docker_is_asked(no_engine: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "nope.toml"), "--image", "x"])
    assert result.exit_code == 2
    assert result.stderr == f"Error: {tmp_path / 'nope.toml'}: suite file not found\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--gpus", "all"], "Error: --gpus needs --image"),
    (["--pull", "never"], "Error: --pull needs --image"),
    (["--env", "OMP_NUM_THREADS"], "Error: --env needs --image"),
    (["--image", "x", "--gpus", "al"], "expected all, a number of GPUs >= 1, or device=ID[,ID...], found 'al'"),
    (["--image", "x", "--gpus", "0"], "found '0'"),
    (["--image", "x", "--pull", "sometimes"], "'sometimes' is not one of 'missing', 'always', 'never'"),
])
def test_container_options_are_checked(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "suite.toml"), *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_help_names_the_container_options() -> None:
    text = CliRunner().invoke(cli, ["run", "--help"]).output
    for option in ("--image IMAGE", "--gpus GPUS", "--pull [missing|always|never]"):
        assert option in text


@pytest.mark.parametrize(("value", "parsed"), [
    ("all", (-1, None)), ("2", (2, None)), (" 1 ", (1, None)),
    ("device=0", (0, ["0"])), ("device=0,GPU-3a1b", (0, ["0", "GPU-3a1b"])),
])
def test_gpus_parse_as_docker_takes_them(value: str, parsed: tuple[int, list[str] | None]) -> None:
    assert parse_gpus(value) == parsed


@pytest.mark.parametrize("value", ["", "none", "0", "-1", "device=", "device=0,", "1.5"])
def test_bad_gpus_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="expected all, a number of GPUs >= 1"):
        parse_gpus(value)


def test_gpus_all_is_a_device_request_for_every_gpu() -> None:
    (request,) = container._device_requests("all")  # type: ignore[misc]
    assert request["Count"] == -1
    assert request["Capabilities"] == [["gpu"]]
    assert container._device_requests(None) is None
    (chosen,) = container._device_requests("device=1,2")  # type: ignore[misc]
    assert (chosen["Count"], chosen["DeviceIDs"]) == (0, ["1", "2"])


# What benchtrail run reads to describe a run (gitlab/ci.py), with the values of a job.
NEEDED = {
    **{name: f"value of {name}" for name in ci_module._SOURCE_VARIABLES.values()},
    "CI_COMMIT_SHA": "a" * 40, "CI_RUNNER_TAGS": '["gpu", "linux"]', "CI_JOB_IMAGE": "ml/bench@sha256:" + "b" * 64,
    "BENCHTRAIL_MACHINE": "a100", "BENCHTRAIL_RUNS": "3",
}
# Secrets, host paths and what a run does not read.
NOT_NEEDED = {
    "BENCHTRAIL_WEBHOOK_URL": "https://hooks.example.com/T0/B0/s3cret", "BENCHTRAIL_PUSH_TOKEN": "glpat-x",
    "BENCHTRAIL_GITLAB_TOKEN": "glpat-y", "GITLAB_TOKEN": "t", "CI_JOB_TOKEN": "glcbt-x",
    "CI_JOB_JWT_V2": "jwt", "CI_REGISTRY_PASSWORD": "p", "CI_DEPLOY_KEY": "k", "BENCHTRAIL_WEBHOOK_SECRET": "s",
    "BENCHTRAIL_GIT_PASSWORD": "p", "BENCHTRAIL_FOO": "unknown", "CI_SERVER_URL": "https://gitlab.example.com",
    "CI_REPOSITORY_URL": "https://gitlab-ci-token:glcbt-x@gitlab.example.com/g/p.git",
    "BENCHTRAIL_SUITE": "/home/me/bench/suite.toml", "BENCHTRAIL_OUT": "out", "BENCHTRAIL_CACHE": "c",
    "HOME": "/root", "PATH": "/usr/bin",
}


def test_only_the_variables_a_run_reads_pass_into_the_container() -> None:
    assert container_environment({**NEEDED, **NOT_NEEDED}) == NEEDED


def test_the_container_describes_the_run_as_the_job_does() -> None:
    outside = read_ci({**NEEDED, **NOT_NEEDED})
    inside = read_ci(container_environment({**NEEDED, **NOT_NEEDED}))
    assert (inside.source, inside.machine, inside.job_image) == (outside.source, outside.machine, outside.job_image)
    assert inside.secrets == () and inside.push_url() is None


def test_run_image_hands_the_container_the_allow_list_and_named_variables(
        write_suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Through the command line, up to the engine's create call (refused, so it ends there)."""
    import docker

    created: list[dict[str, str]] = []

    def create(image_id: str, **kwargs: object) -> None:
        created.append(kwargs["environment"])  # type: ignore[arg-type]
        raise docker.errors.APIError("refused by the test")

    image = SimpleNamespace(id="sha256:" + "1" * 64, attrs={})
    client = SimpleNamespace(images=SimpleNamespace(get=lambda reference: image),
                             containers=SimpleNamespace(create=create), close=lambda: None)
    monkeypatch.setattr(container, "_client", lambda: client)
    for name, value in {**NEEDED, **NOT_NEEDED, "OMP_NUM_THREADS": "4"}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["run", str(write_suite(SUITE)), "--image", "bench:1", "--out",
                                      str(tmp_path / "out"), "--env", "OMP_NUM_THREADS"])
    assert result.exit_code == 2
    assert result.stderr == "Error: image bench:1: cannot create the container: refused by the test\n"
    (environment,) = created
    passed = {name: value for name, value in environment.items() if not name.startswith(("GIT_CONFIG_", "PYTHON"))}
    assert passed == {**NEEDED, "OMP_NUM_THREADS": "4"}
    assert not set(NOT_NEEDED) & set(environment)
    assert not any(secret in str(environment) for secret in ("s3cret", "glpat-", "glcbt-", "jwt"))


def test_the_workspace_is_the_git_checkout_else_the_suite_folder(tmp_path: Path) -> None:
    plain = tmp_path / "plain" / "bench"
    plain.mkdir(parents=True)
    (plain / "suite.toml").write_text(SUITE)
    assert workspace_of(plain / "suite.toml") == plain.resolve()

    repo = tmp_path / "repo"
    (repo / "bench").mkdir(parents=True)
    (repo / "bench" / "suite.toml").write_text(SUITE)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    assert workspace_of(repo / "bench" / "suite.toml") == repo.resolve()


def _image(repo_digests: list[str]) -> SimpleNamespace:
    return SimpleNamespace(id="sha256:" + "1" * 64, attrs={"RepoDigests": repo_digests})


def test_the_digest_is_the_registry_digest_of_the_named_repository() -> None:
    digests = ["registry.example.com/ml/bench@sha256:" + "a" * 64, "ml/other@sha256:" + "b" * 64]
    assert container._digest(_image(digests), "registry.example.com/ml/bench:v1") == "sha256:" + "a" * 64
    assert container._digest(_image(digests), "ml/other") == "sha256:" + "b" * 64
    assert container._digest(_image(digests), "localhost:5000/third:v2") == "sha256:" + "a" * 64
    assert container._digest(_image(digests), "x@sha256:" + "c" * 64) == "sha256:" + "c" * 64


def test_a_locally_built_image_has_its_id_as_digest() -> None:
    assert container._digest(_image([]), "benchtrail:dev") == "sha256:" + "1" * 64


@pytest.mark.parametrize(("data", "peak"), [(b"71659520\n", 71659520), (b"max\n", 0), (None, 0), (b"", 0)])
def test_peak_memory_file(data: bytes | None, peak: int) -> None:
    assert container._peak_bytes(data) == peak
