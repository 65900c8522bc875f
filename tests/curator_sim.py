"""A simulated curator: the desk (wsp_core.desk) on a team store, with its journal, giving
verdicts as fast as the store takes them. The team test runs eight of these at once, kills some
and restarts the server; ``scripts/bench_team.py`` times them.

    python tests/curator_sim.py URL REVIEWER VERDICTS SEED

It resumes its journal first (a killed curator restarted), counts its verdicts already in the
store, and gives the rest; the last line is a JSON summary.
"""

from __future__ import annotations

import json
import random
import sys
import time

from sqlalchemy import text

from wsp_core.desk import Desk, JournaledWriter
from wsp_core.errors import WspError
from wsp_core.journal import Journal
from wsp_core.store.db import open_store, retryable

VERDICTS = ["accept"] * 6 + ["flip"] * 2 + ["ambiguous", "exclude"]


def _retry(call, seconds: float = 60.0):
    """``call()`` again while the server is away (a restart), up to ``seconds``."""
    end = time.monotonic() + seconds
    while True:
        try:
            return call()
        except WspError as e:
            if not retryable(e) or time.monotonic() > end:
                raise
            time.sleep(0.2)


def mine(store, reviewer: str, waiting: list[str]) -> int:
    """This curator's verdicts: in the store, and in the journal but not yet in the store (a
    kill may come between a commit and the journal's "done")."""
    with store.read() as s:
        keys = {k for (k,) in s.execute(text("SELECT client_key FROM reviews WHERE "
                                             "reviewer = :r"), {"r": reviewer})}
        count = int(s.execute(text("SELECT COUNT(*) FROM reviews WHERE reviewer = :r"),
                              {"r": reviewer}).scalar())
    return count + sum(k not in keys for k in waiting)


def main(url: str, reviewer: str, verdicts: int, seed: int) -> dict:
    rng = random.Random(seed)
    store = _retry(lambda: open_store(url, create=False))
    writer = JournaledWriter(store, reviewer, Journal.of(store, reviewer))
    waiting = [r["key"] for r in writer.journal.pending()]
    given = _retry(lambda: mine(store, reviewer, waiting))
    resumed = writer.resume()
    desk = Desk(reviewer, claims=True)
    _retry(lambda: desk.open(store, writer=writer))
    refused = 0
    while given < verdicts:
        if desk.current is None:
            break
        if desk.offline is None and desk.current not in desk.claimed:
            break                    # nothing left that nobody holds or judged
        if not desk.may_review or desk.detail is None:
            refused += 1
            time.sleep(0.05)
            desk.next()              # online again: claims from here; else waits
            if refused > 2000:
                break
            continue
        if desk.review(rng.choice(VERDICTS)) is not None:
            given += 1
    while not writer.flush():        # the journal's last reviews, once the server is back
        time.sleep(0.2)
    _retry(desk.close)
    store.close()
    return {"reviewer": reviewer, "given": given, "resumed": resumed, "waits": refused}


if __name__ == "__main__":
    url, who, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(main(url, who, n, seed)), flush=True)
