"""The image's Docker HEALTHCHECK: exit 0 if a health URL answers 200, else 1.

One image runs three processes (gateway, Streamlit app, worker), so the URL comes from
``MODELYARD_HEALTHCHECK_URL`` (default: the gateway's ``/healthz`` on port 8000). Kubernetes does not
use this: its Deployments probe the same endpoints with ``httpGet`` (deploy/k8s/base). Standard
library only, so the check costs one short Python start and no imports of Modelyard.

Example (exit status, as Docker reads it):
    $ MODELYARD_HEALTHCHECK_URL=http://127.0.0.1:8501/_stcore/health python deploy/docker/healthcheck.py
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz"
TIMEOUT_SECONDS = 4.0
"""Below the HEALTHCHECK's own ``--timeout=5s``, so the script reports instead of being killed."""


def healthy(url: str, timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    """Whether ``url`` answers 200, and a one-line reason for Docker's health log."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200, f"{url}: {response.status}"
    except urllib.error.HTTPError as error:
        return False, f"{url}: {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return False, f"{url}: {getattr(error, 'reason', error)}"


def main() -> int:
    ok, reason = healthy(os.environ.get("MODELYARD_HEALTHCHECK_URL") or DEFAULT_URL)
    print(reason)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
