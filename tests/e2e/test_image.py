"""The benchmark image, built by tools/build-image.sh, and `benchtrail run --image` for real.

Each test starts real containers on the local Docker engine; the image is built once per
session (``image`` in conftest.py) from a wheelhouse, with no network inside the build.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchtrail.results import load_record

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

RUN_TIMEOUT_S = 300


def benchtrail(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchtrail", *args], cwd=cwd, capture_output=True, text=True,
                          env=os.environ.copy(), timeout=RUN_TIMEOUT_S, check=False)


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.strip()


def git_head() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def only_record(folder: Path) -> dict:  # type: ignore[type-arg]
    (path,) = folder.glob("*.json")
    return load_record(path).to_json()


def test_the_image_has_its_labels_entrypoint_and_suite(image: str) -> None:
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", image))
    labels = config["Labels"]
    assert labels["org.opencontainers.image.revision"] == git_head()
    assert "org.opencontainers.image.source" in labels
    assert config["Entrypoint"] == ["benchtrail"]
    assert "BENCHTRAIL_SUITE=/opt/benchtrail/bench/suite.toml" in config["Env"]
    version = docker("run", "--rm", "--network", "none", image, "--version")
    assert version.startswith("benchtrail, version ")
    # The record job pushes with git from this image.
    assert docker("run", "--rm", "--network", "none", "--entrypoint", "git", image, "--version").startswith("git version")


def test_run_image_measures_the_default_suite_in_the_container(image: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = benchtrail("run", "bench/suite.toml", "--image", image, "--pull", "never", "--runs", "1",
                      "--out", str(out), cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "Running default: 3/3" in done.stderr  # the container's progress, streamed
    assert "mlp[batch_size=32]" in done.stdout  # the summary table, once, on stdout
    assert done.stdout.count("mlp[batch_size=32]") == 1

    record = only_record(out)  # load_record validates against the schema
    image_id = docker("image", "inspect", "--format", "{{.Id}}", image)
    assert record["environment"]["image"] == {"reference": image, "digest": image_id}
    assert record["environment"]["python"] != ""
    assert record["source"]["commit"] == git_head()
    assert [b["params"]["batch_size"] for b in record["benchmarks"]] == [1, 8, 32]
    for entry in record["benchmarks"]:
        peak = entry["metrics"]["container_peak_memory_mb"]
        assert peak["unit"] == "MB" and peak["direction"] == "lower"
        # the container holds the workers: its peak is at least one worker's
        assert peak["value"] >= entry["metrics"]["peak_rss_mb"]["value"] > 0
    assert docker("ps", "-aq", "--filter", f"label=org.benchtrail.image={image}") == ""


def test_run_image_without_a_suite_runs_the_one_baked_in(image: str, tmp_path: Path) -> None:
    done = benchtrail("run", "--image", image, "--pull", "never", "--runs", "1", "--machine", "e2e-box",
                      "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"running the suite baked into {image}" in done.stderr
    record = only_record(tmp_path / "out")
    assert record["suite"] == "default"
    assert record["environment"]["hardware"]["runner_label"] == "e2e-box"
    assert record["environment"]["image"]["reference"] == image


def test_a_suite_error_in_the_container_exits_2_with_its_message(image: str, tmp_path: Path) -> None:
    (tmp_path / "suite.toml").write_text('[suite]\nname = "broken"\n[[benchmark]]\nname = "x"\n'
                                         'target = "nowhere:nothing"\n')
    done = benchtrail("run", "suite.toml", "--image", image, "--pull", "never", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert "nowhere" in done.stderr  # the container's own error, streamed
    assert done.stderr.rstrip().splitlines()[-1] == (
        f"Error: image {image}: benchtrail run exited with code 2 in the container (its output is above)")
    assert not (tmp_path / "out").exists()


def test_a_missing_image_with_pull_never_exits_2(docker_engine: None, tmp_path: Path) -> None:
    done = benchtrail("run", "--image", "benchtrail-e2e-absent:nope", "--pull", "never", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "Error: image benchtrail-e2e-absent:nope: not found on the Docker engine, and --pull never "
        "forbids pulling it (build it, or pull it first)")


def test_ci_variables_reach_the_container_and_secrets_do_not(image: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "workload.py").write_text(
        "import os, sys\n"
        "def seen():\n"
        "    names = sorted(n for n in os.environ if n.startswith(('CI_', 'BENCHTRAIL_')))\n"
        "    print('SEEN ' + ' '.join(names), file=sys.stderr)\n"
        "def noop(state):\n    return None\n")
    (tmp_path / "suite.toml").write_text('[suite]\nname = "env"\n[[benchmark]]\nname = "noop"\n'
                                         'setup = "workload:seen"\ntarget = "workload:noop"\n'
                                         'warmup = 1\niterations = 5\n')
    monkeypatch.setenv("CI_PIPELINE_ID", "4242")
    monkeypatch.setenv("CI_JOB_TOKEN", "glcbt-never-shown")
    monkeypatch.setenv("BENCHTRAIL_PUSH_TOKEN", "glpat-never-shown")
    done = benchtrail("run", "suite.toml", "--image", image, "--pull", "never", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (seen,) = [line.split()[1:] for line in done.stderr.splitlines() if line.startswith("SEEN")]
    assert "CI_PIPELINE_ID" in seen
    assert "CI_JOB_TOKEN" not in seen and "BENCHTRAIL_PUSH_TOKEN" not in seen
    assert "never-shown" not in done.stderr + done.stdout
    assert only_record(tmp_path / "out")["source"]["pipeline_id"] == "4242"
