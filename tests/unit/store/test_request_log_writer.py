"""The request log's writer thread: a row waits at most ``flush_seconds`` even while rows keep coming.

Found by ``kill -9`` of a replica under load (tests/integration/test_replica_kill.py): the wait was
restarted by every new row, so under steady traffic slower than ``batch_size`` rows per
``flush_seconds`` nothing was written until the batch filled — a killed process lost all of it.
"""

from __future__ import annotations

import time

from store.request_log import CallRecord, RequestLog


def test_rows_are_written_while_a_steady_stream_keeps_coming(tmp_path):
    request_log = RequestLog(tmp_path / "requests.sqlite", batch_size=200, flush_seconds=0.1)
    written_while_streaming = 0
    try:
        for i in range(40):  # 2 s of one row every 50 ms: never a 0.1 s pause, never 200 rows
            request_log.write(CallRecord(endpoint="chat", model="m", key_id=f"k{i}"))
            time.sleep(0.05)
            if i == 30:  # 1.5 s in: every row older than 0.1 s must be on disk already
                written_while_streaming = sum(row["requests"] for row in request_log.usage(0, time.time()))
    finally:
        request_log.close()
    assert written_while_streaming >= 20, written_while_streaming
