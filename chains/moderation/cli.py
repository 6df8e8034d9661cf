"""``python -m chains.moderation scan``: screen JSONL texts from stdin or a file.

Each input line is ``{"text": ...}``; each output line is
``{"blocked": bool, "categories": [...], "pii": [{"type", "start", "end"}], "masked": str}``.
Offsets are Python string indices (code points) into ``text``; ``masked`` has PII replaced by
placeholders (numbered per line) and ``mask`` terms starred out. Raw PII values are never
printed. A line that is not valid JSON or has no ``text`` gives ``{"error": ...}``.

Example::

    echo '{"text": "mail ann@example.com"}' | python -m chains.moderation scan --policy support
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from chains.moderation.screen import Moderator

__all__ = ["main", "scan_lines"]


def scan_lines(moderator: Moderator, lines: Iterable[str], policy: str = "default") -> Iterator[dict[str, Any]]:
    """One result per non-empty JSONL line (see the module docstring for its shape)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            text = json.loads(line)["text"]
            if not isinstance(text, str):
                raise TypeError("'text' must be a string")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            yield {"error": f"line {number}: {exc}"}
            continue
        result = moderator.screen(text, policy)
        masked, _ = result.masked()
        yield {
            "blocked": result.blocked,
            "categories": result.categories,
            "pii": [{"type": s.type, "start": s.start, "end": s.end} for s in result.pii],
            "masked": masked,
        }


def main(argv: list[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m chains.moderation")
    commands = parser.add_subparsers(dest="command", required=True)
    scan = commands.add_parser("scan", help='screen JSONL {"text": ...} lines')
    scan.add_argument("file", nargs="?", type=Path, help="JSONL file (default: standard input)")
    scan.add_argument("--policy", default="default", help="policy in moderation.yaml (default: default)")
    scan.add_argument("--config", type=Path, help="moderation.yaml (default: config/moderation.yaml)")
    args = parser.parse_args(argv)
    moderator = Moderator.from_config(args.config)
    moderator.policy(args.policy)
    out = stdout or sys.stdout
    source = args.file.open(encoding="utf-8") if args.file else (stdin or sys.stdin)
    try:
        for record in scan_lines(moderator, source, args.policy):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if args.file:
            source.close()
    return 0
