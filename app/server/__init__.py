"""The Modelyard gateway: an OpenAI-compatible API, the registry API, LangServe chains,
Prometheus metrics and a request log, in one FastAPI app built by :func:`create_app`.

Run it with ``python -m app.server --host 127.0.0.1 --port 8000`` (or ``make serve``).
"""

from app.server.factory import create_app
from app.server.gateway.settings import GatewaySettings

__all__ = ["GatewaySettings", "create_app"]
