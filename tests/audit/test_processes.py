"""Two processes appending at once still build one chain (SQLite file and PostgreSQL)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import time

from tokenward.audit import AuditLog
from tokenward.clock import SystemClock
from tokenward.config.schema import DatabaseSettings
from tokenward.storage import Store, migrate

APPENDS = 50
_APPEND_AT = textwrap.dedent(
    """
    import sys, time
    from tokenward.audit import AuditLog
    from tokenward.clock import SystemClock
    from tokenward.config.schema import DatabaseSettings
    from tokenward.storage import Store
    url, start_at, name, count = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    store = Store.connect(DatabaseSettings(url=url))
    log = AuditLog(store, SystemClock(), secret_check=lambda value: None)
    while time.time() < start_at:
        time.sleep(0.001)
    for i in range(count):
        log.append(name, "key.create", f"key_{name}_{i}", {"i": i})
        # SQLite's busy handler sleeps while the lock holder runs on, so without a
        # pause one process could finish before the other gets in: no contention
        time.sleep(0.002)
    store.close()
    """
)


def test_two_processes_appending_concurrently_form_one_chain(database_url: str) -> None:
    store = Store.connect(DatabaseSettings(url=database_url))
    try:
        migrate(store)
        start_at = str(time.time() + 2.0)  # both processes are imported and waiting by then
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _APPEND_AT, database_url, start_at, name, str(APPENDS)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("proc_a", "proc_b")
        ]
        outputs = [p.communicate(timeout=90) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs

        log = AuditLog(store, SystemClock(), page_size=16)
        result = log.verify()
        assert result.ok, result.describe()
        assert result.checked == result.head_seq == 2 * APPENDS
        records = log.records(limit=1000)
        assert {r.actor for r in records} == {"proc_a", "proc_b"}
        # each process's own appends keep their order within the one chain
        for name in ("proc_a", "proc_b"):
            mine = [r.details["i"] for r in records if r.actor == name]
            assert mine == list(range(APPENDS))
        # the appends really interleaved, or this test proved nothing
        switches = sum(a.actor != b.actor for a, b in itertools.pairwise(records))
        assert switches > 1
    finally:
        store.close()
