"""A team on one store: agreement (Cohen's κ), the consensus rule in each mode, each curator's
counts and speed, and the ``team`` command, on both back ends."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import text

from conftest import import_samples, run_cli
from wsp_core.errors import BadValue
from wsp_core.store import add_review, check_effective_labels, open_store
from wsp_core.store.models import Pair, Review
from wsp_core.store.team import (agreement, in_double_review, reviewer_stats,
                                 set_team_settings)


@pytest.fixture
def store(any_db):
    import_samples(any_db, "coco", "crowdpose")
    with open_store(any_db) as st:
        yield st


def kappa_by_hand(a: list[str], b: list[str]) -> float:
    """Cohen (1960): κ = (p_o − p_e) / (1 − p_e), p_e from each rater's own marginals."""
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b)) / n
    cats = set(a) | set(b)
    p_e = sum((a.count(c) / n) * (b.count(c) / n) for c in cats)
    return (p_o - p_e) / (1 - p_e)


def test_kappa_is_cohens_on_the_first_two_curators_of_each_pair(store):
    ana = ["accept", "accept", "flip", "flip", "accept", "ambiguous", "accept", "exclude",
           "flip", "accept"]
    bo = ["accept", "flip", "flip", "flip", "accept", "accept", "accept", "exclude",
          "accept", "accept"]
    for pid, (x, y) in enumerate(zip(ana, bo), start=1):
        add_review(store, pid, x, "hugging" if x == "ambiguous" else None, reviewer="ana")
        add_review(store, pid, y, reviewer="bo")
    add_review(store, 11, "flip", reviewer="ana")              # one curator only: not counted
    add_review(store, 1, "note", note="a note is no verdict", reviewer="cy")
    result = agreement(store)
    assert result["pairs"] == 10
    assert result["kappa"] == pytest.approx(kappa_by_hand(ana, bo), abs=1e-12)
    assert result["kappa"] == pytest.approx(cohen_kappa_score(ana, bo), abs=1e-12)
    assert result["agreement"] == pytest.approx(0.7)
    assert result["disagreements"] == [2, 6, 9]
    assert result["per_curators"] == [{"curators": ["ana", "bo"], "pairs": 10,
                                       "kappa": pytest.approx(cohen_kappa_score(ana, bo))}]
    assert result["per_reason"]["hugging"]["pairs"] == 1


def test_the_consensus_rule_in_each_mode(store):
    with store.read() as s:
        auto = s.get(Pair, 1).auto_label

    def state(pid=1):
        with store.read() as s:
            p = s.get(Pair, pid)
            return p.status, p.label

    add_review(store, 1, "flip", "stairs", reviewer="ana")
    add_review(store, 1, "accept", reviewer="bo")
    add_review(store, 1, "flip", reviewer="cy")
    add_review(store, 2, "flip", reviewer="ana")
    add_review(store, 2, "accept", reviewer="bo")           # a tie: the latest of the tied
    assert state() == ("flip", 1 - auto)                    # latest: cy's flip
    changed = set_team_settings(store, consensus="adjudicator", adjudicators=["bo"])
    assert state() == ("accept", auto) and changed["pairs_changed"] == 1  # pair 2: bo was latest
    assert check_effective_labels(store) == []
    set_team_settings(store, consensus="majority")
    assert state() == ("flip", 1 - auto) and state(2)[0] == "accept"
    add_review(store, 1, "accept", reviewer="dee")          # 2 flips, 2 accepts: latest tied
    assert state() == ("accept", auto)
    add_review(store, 1, "reset", reviewer="dee")           # dee withdraws: flips win
    assert state() == ("flip", 1 - auto)
    assert check_effective_labels(store) == []
    set_team_settings(store, consensus="latest")            # back: dee's reset stands
    assert state() == ("auto", auto)
    assert check_effective_labels(store) == []
    with pytest.raises(BadValue, match="unknown rule 'vote'"):
        set_team_settings(store, consensus="vote")
    with pytest.raises(BadValue, match="between 0 and 1"):
        set_team_settings(store, double_review=1.5)


def test_each_curators_counts_mix_and_speed(store):
    start = datetime(2026, 12, 1, 9, 0, 0)
    gaps = [0, 4, 6, 5, 3600, 5]            # one pause of an hour: not review time
    with store.write() as s:
        t = start
        for k, gap in enumerate(gaps):
            t += timedelta(seconds=gap)
            s.add(Review(pair_id=k + 1, verdict="flip" if k % 3 == 0 else "accept",
                         reviewer="ana", created_at=t))
        s.add(Review(pair_id=1, verdict="note", note="x", reviewer="ana", created_at=t))
        s.add(Review(pair_id=2, verdict="accept", reviewer="bo", created_at=t))
    stats = {r["reviewer"]: r for r in reviewer_stats(store)}
    ana = stats["ana"]
    assert (ana["verdicts"], ana["notes"], ana["mix"]) == (6, 1, {"flip": 2, "accept": 4})
    assert ana["median_s"] == 5.0                         # of 4, 6, 5, 5
    assert ana["per_hour"] == pytest.approx(4 / 20 * 3600)
    assert stats["bo"]["median_s"] is None and stats["bo"]["verdicts"] == 1


def test_the_double_review_share_is_a_fixed_hash_of_the_pair():
    picked = [p for p in range(1, 20001) if in_double_review(p, 0.1)]
    assert 0.09 < len(picked) / 20000 < 0.11
    assert picked == [p for p in range(1, 20001) if in_double_review(p, 0.1)]
    assert not any(in_double_review(p, 0.0) for p in range(1, 1000))
    assert all(in_double_review(p, 1.0) for p in range(1, 1000))


def test_the_team_command_sets_the_rule_and_reports(any_db):
    import_samples(any_db, "coco")
    for pid, (x, y) in enumerate([("accept", "accept"), ("flip", "accept")], start=1):
        run_cli("review", "--db", any_db, "--pair", pid, "--verdict", x, "--reviewer", "ana")
        run_cli("review", "--db", any_db, "--pair", pid, "--verdict", y, "--reviewer", "bo")
    out = json.loads(run_cli("team", "--db", any_db, "--consensus", "adjudicator",
                             "--adjudicators", "ana", "--double-review", "0.1",
                             "--json").stdout)
    assert out["settings"]["consensus"] == "adjudicator" and out["settings"]["pairs_changed"] == 1
    assert out["agreement"]["pairs"] == 2 and out["agreement"]["disagreements"] == [2]
    text = run_cli("team", "--db", any_db).stdout
    assert "adjudicators: ana" in text and "blind double review: 10.0 %" in text
    assert "agreement on 2 pairs" in text and "ana" in text and "bo" in text
    bad = run_cli("team", "--db", any_db, "--consensus", "vote", check=False)
    assert bad.returncode == 2 and "unknown rule 'vote'" in bad.stderr


def Desk_READ_AHEAD() -> int:  # noqa: N802 - the constant, read where the desk keeps it
    from wsp_core.desk import Desk

    return Desk.READ_AHEAD


def team_desk(store, who):
    from wsp_core.desk import Desk

    desk = Desk(who, claims=True)
    desk.open(store)
    return desk


def test_two_desks_walking_one_queue_never_get_the_same_pair(store):
    ana = team_desk(store, "ana")
    bo = team_desk(store, "bo")
    ids = [int(i) for i in ana.queue.ids]
    ahead = Desk_READ_AHEAD()
    assert (ana.current, bo.current) == (ids[0], ids[ahead])  # ana holds the first 8
    seen = []
    for _ in range(5):
        for desk in (ana, bo):
            seen.append(desk.current)
            desk.review("accept")
    assert len(seen) == len(set(seen)) == 10                   # nobody reviewed a pair twice
    with store.read() as s:
        judged = s.execute(text("SELECT pair_id, COUNT(*) FROM reviews GROUP BY pair_id")).all()
    assert all(n == 1 for _, n in judged) and len(judged) == 10
    ana.close()                                                # releases ana's claims
    cy = team_desk(store, "cy")
    assert cy.current == ids[5]                                # the first nobody judged


def test_a_claim_ends_with_its_lease(store):
    set_team_settings(store, lease_minutes=0.5 / 60)           # half a second
    ana = team_desk(store, "ana")
    first = ana.current
    assert team_desk(store, "bo").current != first
    time.sleep(0.8)                                            # ana's desk died meanwhile
    assert team_desk(store, "cy").current == first


def test_blind_double_review_hands_a_judged_pair_to_one_second_curator(store):
    set_team_settings(store, double_review=1.0)                # every pair, for the test
    ana = team_desk(store, "ana")
    first = ana.current
    ana.review("flip", "stairs")
    bo = team_desk(store, "bo")
    assert bo.current == first                                 # judged by one other curator
    assert bo.detail.status == "auto" and bo.detail.reason is None   # blind: ana's flip unseen
    assert bo.history() == []                                  # nor in the history
    assert bo.queue.status[bo.queue.index_of(first)] == 0      # the list is blind too
    bo.review("accept")
    assert bo.current != first and first not in bo.blind_ids
    ana.close()
    bo.close()
    cy = team_desk(store, "cy")
    assert cy.current == int(cy.queue.ids[1])                  # two judged the first
    result = agreement(store)
    assert result["pairs"] == 1 and result["disagreements"] == [first]


def test_a_desk_sees_the_others_verdicts_when_it_polls(store):
    ana = team_desk(store, "ana")
    bo = team_desk(store, "bo")
    target = int(bo.queue.ids[5])
    add_review(store, target, "exclude", "occlusion", reviewer="ana")
    assert bo.poll() == 1 and bo.poll() == 0
    k = bo.queue.index_of(target)
    assert bo.queue.status[k] == 4                             # "exclude"
    assert bo.index.state(target) == ("exclude", "occlusion")
    ana.close()


def test_the_disagreements_queue_and_the_reviewer_filter(store):
    from wsp_core.desk import Desk, View
    from wsp_core.store.browse import PairFilter

    for pid, (x, y) in enumerate([("accept", "flip"), ("flip", "flip"), ("accept", "exclude")],
                                 start=1):
        add_review(store, pid, x, reviewer="ana")
        add_review(store, pid, y, reviewer="bo")
    add_review(store, 7, "accept", reviewer="ana")
    add_review(store, 8, "note", note="only a note", reviewer="cy")
    desk = Desk("lee")
    desk.open(store, View(kind="disagreements"))
    assert [int(i) for i in desk.queue.ids] == [1, 3]
    desk.set_view(View(PairFilter(reviewer="ana")))
    assert [int(i) for i in desk.queue.ids] == [1, 2, 3, 7]
    desk.set_view(View(PairFilter(reviewer="cy")))          # a note is no verdict
    assert len(desk.queue) == 0
    stats = desk.statistics(team=True)["team"]
    assert [c["reviewer"] for c in stats["curators"]] == ["ana", "bo", "cy"]
    assert stats["agreement"]["disagreements"] == [1, 3]


def test_the_statistics_panel_shows_each_curator_and_the_agreement(qtbot, window, any_db):
    import_samples(any_db, "coco")
    for pid, (x, y) in enumerate([("accept", "flip"), ("flip", "flip")], start=1):
        run_cli("review", "--db", any_db, "--pair", pid, "--verdict", x, "--reviewer", "ana")
        run_cli("review", "--db", any_db, "--pair", pid, "--verdict", y, "--reviewer", "bo")
    win = window(any_db)
    tab = win.pairs
    tab.side.setCurrentWidget(tab.stats)
    qtbot.waitUntil(lambda: tab.stats.curators.rowCount() == 2)
    names = [tab.stats.curators.item(r, 0).text() for r in range(2)]
    assert names == ["ana", "bo"] and tab.stats.curators.item(0, 1).text() == "2"
    assert "κ" in tab.stats.team_label.text() and "1 disagree" in tab.stats.team_label.text()
    tab.filters.reviewer.setText("bo")
    tab.filters.apply_now()
    qtbot.waitUntil(lambda: len(tab.session.queue) == 2)
    tab.filters.queue.setCurrentIndex(tab.filters.queue.findData("disagreements"))
    tab.filters.reviewer.clear()
    tab.filters.apply_now()
    qtbot.waitUntil(lambda: [int(i) for i in tab.session.queue.ids] == [1])
    win.grab().save(str(Path(os.environ.get("WSP_SHOTS", "/tmp")) / "team_statistics.png"))
