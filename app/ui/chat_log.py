"""A chat turn as a request-log row: the same :class:`CallRecord` the gateway writes.

The Dashboard reads the log, so chats made in the UI show up next to API calls, with the
endpoint ``ui_chat``. No prompt or answer text is logged.

Example:
    >>> call_record(TurnStats(model="smollm2-135m", latency_s=0.4)).endpoint
    'ui_chat'
"""

from __future__ import annotations

from app.server.http.errors import status_of
from app.ui.chat_session import TurnStats
from store.request_log import CallRecord

__all__ = ["ENDPOINT", "call_record"]

ENDPOINT = "ui_chat"


def call_record(stats: TurnStats, error: BaseException | None = None) -> CallRecord:
    """The log row for one turn; a failed turn gets the gateway's status code and the error's class."""
    call = CallRecord(
        endpoint=ENDPOINT,
        model=stats.model,
        deployment=stats.deployment,
        route_reason=stats.route_reason,
        latency_s=stats.latency_s,
        ttft_s=stats.ttft_s,
        input_tokens=stats.input_tokens,
        output_tokens=stats.output_tokens,
        cost_usd=stats.cost_usd,
    )
    if error is not None:
        call.status, call.error_class = status_of(error).status, type(error).__name__
    return call
