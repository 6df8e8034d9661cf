"""``python -m models prepare|list``: prepare the local default models, or print the catalog."""

from __future__ import annotations

import argparse
import os
import sys
import time

from models.catalog import load_catalog
from models.registry import Registry


def prepare() -> int:
    """Make the local defaults ready: check the weights, convert the GGUF for transformers once."""
    from models.availability import local_weights_path
    from models.local_weights import ensure_converted

    for spec in load_catalog():
        if not spec.is_local or not spec.enabled or spec.source is None:
            continue
        if local_weights_path(spec.source) is None:
            print(f"! {spec.name}: weights {spec.source.file} not installed", file=sys.stderr)
            return 1
        if spec.provider == "huggingface_local":
            started = time.perf_counter()
            folder = ensure_converted(spec.source)
            print(f"  {spec.name}: transformers weights ready in {folder} ({time.perf_counter() - started:.1f} s)")
        else:
            print(f"  {spec.name}: GGUF weights ready")
    return 0


def list_models() -> int:
    for entry in Registry().entries():
        state = "available" if entry.availability.available else f"unavailable: {entry.availability.reason}"
        capabilities = ",".join(entry.spec.capability_names()) or "-"
        print(f"{entry.spec.name:28} {entry.spec.provider:22} {state}\n{'':28} capabilities: {capabilities}")
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog="python -m models", description=__doc__)
    parser.add_argument("command", choices=["prepare", "list"])
    args = parser.parse_args(argv)
    return prepare() if args.command == "prepare" else list_models()


if __name__ == "__main__":
    sys.exit(main())
