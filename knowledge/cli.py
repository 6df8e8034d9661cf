"""``python -m knowledge``: ingest, list, delete and search knowledge bases from a shell.

Commands::

    python -m knowledge ingest PATH... --collection NAME [--prune] [--quiet]
    python -m knowledge list
    python -m knowledge delete --collection NAME [--source PATH]
    python -m knowledge search --collection NAME [--k 5] [--input FILE] [--min-relevance X] [--mmr]

``search`` reads JSON lines ``{"query": "..."}`` from ``--input`` or standard input and writes
one JSON line per query: ``{"results": [{"source", "heading", "text", "score", ...}]}``
(``{"error": "..."}`` for a line it cannot read, so output lines match input lines).
Exit codes: 0 done (files may have been skipped, with warnings on stderr), 1 error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

from core.errors import KnowledgeError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m knowledge", description="Manage Modelyard knowledge bases.")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="add new and changed files to a collection")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    ingest.add_argument("--collection", required=True)
    ingest.add_argument("--prune", action="store_true", help="remove documents whose files are gone")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")

    commands.add_parser("list", help="list collections with document and chunk counts")

    delete = commands.add_parser("delete", help="delete a collection (or one document of it)")
    delete.add_argument("--collection", required=True)
    delete.add_argument("--source", help="delete only this document (its path as ingested)")

    search = commands.add_parser("search", help="search with JSON-lines queries")
    search.add_argument("--collection", required=True)
    search.add_argument("--k", type=int, default=5)
    search.add_argument(
        "--input",
        type=argparse.FileType("r", encoding="utf-8"),
        default=None,
        help='JSONL file of {"query": ...} (default: standard input)',
    )
    search.add_argument("--min-relevance", type=float, default=0.0)
    search.add_argument("--mmr", action="store_true", help="diversify results")
    return parser


def _ingest(args: argparse.Namespace) -> int:
    from knowledge.base import KnowledgeBase

    report = KnowledgeBase(args.collection).ingest(args.paths, prune=args.prune, progress=not args.quiet)
    print(report.summary())
    return 0


def _list(_: argparse.Namespace) -> int:
    from knowledge.base import KnowledgeBase, list_collections

    for name in list_collections():
        stats = KnowledgeBase(name, create=False).stats()
        print(f"{name}\t{stats.documents} documents\t{stats.chunks} chunks")
    return 0


def _delete(args: argparse.Namespace) -> int:
    from knowledge.base import KnowledgeBase, delete_collection

    if args.source:
        removed = KnowledgeBase(args.collection, create=False).delete_document(args.source)
        print(f"removed {removed} chunks of {args.source}" if removed else f"no document {args.source}")
        return 0 if removed else 1
    if not delete_collection(args.collection):
        raise KnowledgeError(f"no knowledge collection named {args.collection!r}")
    print(f"deleted collection {args.collection}")
    return 0


def _search(args: argparse.Namespace) -> int:
    from knowledge.base import KnowledgeBase

    kb = KnowledgeBase(args.collection, create=False)
    for line in _query_lines(args.input or sys.stdin):
        try:
            query = json.loads(line)["query"]
            if not isinstance(query, str):
                raise TypeError("'query' must be a string")
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            print(json.dumps({"error": f"bad input line: {error}"}), flush=True)
            continue
        hits = kb.search(query, args.k, mmr=args.mmr, min_relevance=args.min_relevance)
        print(json.dumps({"results": [hit.to_dict() for hit in hits]}, ensure_ascii=False), flush=True)
    return 0


def _query_lines(stream: TextIO) -> Iterable[str]:
    return (line for line in stream if line.strip())


COMMANDS = {"ingest": _ingest, "list": _list, "delete": _delete, "search": _search}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except KnowledgeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
