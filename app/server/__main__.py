"""``python -m app.server [--host H] [--port P] [--no-knowledge]``: serve the gateway with uvicorn.

On an address other than loopback the server refuses to start unless ``MODELYARD_MASTER_KEY`` is
set or the key store (``data/keys.sqlite``, or ``DATABASE_URL``) holds an active consumer key: the models would
otherwise be open to the network. (Without a master key the admin endpoints answer only callers
on this machine.)
"""

from __future__ import annotations

import argparse
import ipaddress
import os

import uvicorn

from app.server.factory import create_app
from core.redaction import redacted
from store.api_keys_db import count_active_keys
from store.database import store_location

__all__ = ["is_loopback", "main"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m app.server", description="Serve the Modelyard gateway.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--max-body-bytes", type=int, default=1_000_000, help="larger bodies get 413")
    parser.add_argument(
        "--no-knowledge",
        action="store_true",
        help="skip /support and /rag (and ingesting the sample knowledge base)",
    )
    parser.add_argument(
        "--warm",
        action="store_true",
        help="load the knowledge base and the embedding model at start (default: on first use)",
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=int(os.environ.get("MODELYARD_TORCH_THREADS", "1")),
        help="CPU threads for the embedding model (default 1: the event loop keeps the other core)",
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    keys = store_location("keys.sqlite")
    if not is_loopback(args.host) and not os.environ.get("MODELYARD_MASTER_KEY") and not count_active_keys(keys):
        parser.error(
            f"refusing to serve on {args.host} without MODELYARD_MASTER_KEY and with no active API key in "
            f"{redacted(str(keys))}: the models would be open to the network (set MODELYARD_MASTER_KEY, or serve on "
            "127.0.0.1 and create a key with POST /api/keys, or bind 127.0.0.1)"
        )
    # before torch is first imported (it loads lazily, on the first prompt that needs an embedding)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.torch_threads))
    app = create_app(knowledge=not args.no_knowledge, max_body_bytes=args.max_body_bytes, warm=args.warm)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
