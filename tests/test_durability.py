"""No review is ever lost: SIGKILL mid-stream, and writers racing an exporter."""

import os
import signal
import subprocess
import sys
import time

from conftest import import_samples, run_cli
from wsp_core.store import check_effective_labels, open_store, pair_history

WRITER = r"""
import sys
from wsp_core.store import add_review, open_store
db, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
verdicts = ["accept", "flip", "ambiguous", "exclude", "reset"]
with open_store(db) as store:
    for k in range(count):
        pair = 1 + k % 13
        r = add_review(store, pair, verdicts[k % 5], reviewer=tag, note=f"{tag}-{k}")
        print(r["review_id"], pair, flush=True)   # printed only once the review is committed
"""


def spawn_writer(db, tag, count):
    return subprocess.Popen([sys.executable, "-c", WRITER, str(db), tag, str(count)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_while_writing_reviews_loses_none_that_returned(db):
    import_samples(db, "coco", "crowdpose")
    proc = spawn_writer(db, "killed", 100_000)
    returned = []
    deadline = time.monotonic() + 60
    while len(returned) < 150 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        returned.append(tuple(map(int, line.split())))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(returned) >= 150, proc.stderr.read()
    with open_store(db) as store:
        stored = {}
        for pair in range(1, 14):
            for h in pair_history(store, pair):
                stored[h["review_id"]] = pair
        assert all(stored.get(rid) == pair for rid, pair in returned)
        assert check_effective_labels(store) == []


def test_two_writers_and_an_exporter_never_see_a_locked_database(db, tmp_path):
    import_samples(db, "coco", "crowdpose")
    writers = [spawn_writer(db, f"w{k}", 120) for k in range(2)]
    exports = 0
    while any(w.poll() is None for w in writers) or exports < 2:
        proc = run_cli("export", "--db", db, "--out", tmp_path / "pairs.jsonl", check=False)
        assert proc.returncode == 0 and "locked" not in proc.stderr, proc.stderr
        exports += 1
    for w in writers:
        out, err = w.communicate()
        assert w.returncode == 0 and "locked" not in err, err
        assert len(out.splitlines()) == 120
    with open_store(db) as store:
        total = sum(len(pair_history(store, p)) for p in range(1, 14))
        assert total == 240
        assert check_effective_labels(store) == []
