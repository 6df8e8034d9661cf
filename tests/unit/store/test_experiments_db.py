"""The A/B store shared by the writer thread and request threads, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

from store.experiments_db import ExperimentsDB


def test_threads_sharing_the_store_do_not_break_each_others_transactions(store_target):
    # the writer thread prunes inside BEGIN IMMEDIATE; a request thread's prune (or a statement that
    # slipped into that transaction) failed with "cannot start a transaction within a transaction"
    db = ExperimentsDB(store_target)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(300):
                db.add_event(f"r{worker}-{i}", "exp", "a", 0.1, 1, 1, 0.0, "", at=float(i))
                db.prune(before=float(i - 5))
                db.set_status("exp", "running")
                db.add_feedback(f"r{worker}-{i}", 1)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert db.status("exp") == "running"
    assert db.summary("exp")[0]["requests"] == 3 * 6  # the last six of each worker are younger than the cut
