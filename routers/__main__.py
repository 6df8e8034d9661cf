"""Command line of the routing package.

``python -m routers classify [FILE] [--rules-only] [--config PATH]``
    Dry run of the task classifier, calling no model. Reads JSON lines ``{"prompt": ...}``
    from FILE (or standard input) and writes one JSON line per prompt::

        {"task": "translation", "score": 1.0, "model": "gpt-4o-mini",
         "reason": "rule 'translate … into a language' matched “翻译”", "method": "rule"}

    ``model`` is the catalog model :func:`routers.task.preferred_model` would prefer for the
    task. An ``id`` field in the input is copied to the output. A line that is not a JSON
    object with a string ``prompt`` yields ``{"error": ...}`` and the exit status is 1.

Example:
    $ echo '{"prompt": "请把这句话翻译成英文"}' | python -m routers classify --rules-only
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, TextIO

__all__ = ["main"]

_BATCH = 64


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    return int(args.handler(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m routers", description="Modelyard routing tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    classify = commands.add_parser("classify", help="classify JSONL prompts by task (calls no model)")
    classify.add_argument("file", nargs="?", type=Path, help="JSONL input (default: standard input)")
    classify.add_argument("--rules-only", action="store_true", help="keyword rules only, no embedding model")
    classify.add_argument("--config", type=Path, help="routing.yaml to read (default: config/routing.yaml)")
    classify.set_defaults(handler=_classify)
    return parser


def _classify(args: argparse.Namespace) -> int:
    from models.registry import Registry
    from routers.task import TaskClassifier, preferred_model
    from routers.task_config import load_task_config

    config = load_task_config(args.config) if args.config else None
    classifier = TaskClassifier.from_config(config, rules_only=args.rules_only)
    entries = Registry().entries()
    failures = 0
    with _open(args.file) as stream:
        batch_size = 1 if stream.isatty() else _BATCH
        for batch in _batches(stream, batch_size):
            parsed = [_parse(line) for line in batch]
            prompts = [p["prompt"] for p in parsed if "error" not in p]
            decisions = iter(classifier.classify_batch(prompts))
            for item in parsed:
                if "error" in item:
                    failures += 1
                    _write(item)
                    continue
                decision = next(decisions)
                out = {
                    "task": decision.task,
                    "score": decision.score,
                    "model": preferred_model(decision.task, entries),
                    "reason": decision.reason,
                    "method": decision.method,
                }
                _write({"id": item["id"], **out} if "id" in item else out)
    return 1 if failures else 0


def _open(path: Path | None) -> AbstractContextManager[TextIO]:
    """The input file, or standard input (left open)."""
    return nullcontext(sys.stdin) if path is None else path.open(encoding="utf-8")


def _batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    """Non-blank lines in lists of at most ``size``."""
    batch: list[str] = []
    for line in lines:
        if line.strip():
            batch.append(line)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def _parse(line: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"error": f"not JSON: {exc.msg}"}
    if not isinstance(item, dict) or not isinstance(item.get("prompt"), str):
        return {"error": 'expected an object with a string "prompt"'}
    return item


def _write(item: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
