"""Curated labels out (export --format coco|csv) and verdicts back in (review --from)."""

from __future__ import annotations

import csv
import json

from conftest import run_cli
from test_cli import assert_one_line_error


def _pairs(db, tmp_path) -> dict[int, dict]:
    run_cli("export", "--db", db, "--out", tmp_path / "pairs.jsonl")
    return {r["pair_id"]: r for r in map(json.loads,
                                         (tmp_path / "pairs.jsonl").read_text().splitlines())}


def _review_some(db, pairs: dict[int, dict]) -> None:
    ids = sorted(pairs)
    for pid, verdict, reason in [(ids[0], "flip", None), (ids[1], "accept", None),
                                 (ids[2], "ambiguous", "hugging"),
                                 (ids[3], "exclude", "annotation_error"), (ids[-1], "flip", None)]:
        run_cli("review", "--db", db, "--pair", pid, "--verdict", verdict,
                *(["--reason", reason] if reason else []))


def test_the_coco_export_loads_in_pycocotools_with_the_curated_depth_order(desk_db, tmp_path):
    from pycocotools.coco import COCO

    _review_some(desk_db, _pairs(desk_db, tmp_path))
    pairs = _pairs(desk_db, tmp_path)
    out = tmp_path / "coco"
    out.mkdir()
    summary = json.loads(run_cli("export", "--db", desk_db, "--format", "coco", "--out", out,
                                 "--json").stdout)
    files = {f["source"]: f for f in summary["files"]}
    assert sum(f["pairs"] for f in files.values()) == len(pairs)
    seen = 0
    for entry in files.values():
        coco = COCO(entry["file"])                      # a COCO reader reads plain keypoints
        assert len(coco.getImgIds()) == entry["images"] and coco.getCatIds() == [1]
        for image in coco.dataset["images"]:
            anns = {a["id"] for a in coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))}
            depth = image["wsp_depth"]
            layer = {pid: k for k, ids in enumerate(depth["order"] or []) for pid in ids}
            for p in depth["pairs"]:
                stored = pairs[p["pair_id"]]
                seen += 1
                assert {p["a"], p["b"]} <= anns and p["status"] == stored["status"]
                a, b = stored["a"]["person_id"], stored["b"]["person_id"]
                expected = None if stored["label"] is None else a if stored["label"] == 1 else b
                assert p["closer"] == expected and p["reason"] == stored["reason"]
                if expected is not None and depth["consistent"]:
                    farther = b if expected == a else a
                    assert layer[expected] < layer[farther]
    assert seen == len(pairs)
    statuses = {p["status"] for p in pairs.values()}
    assert {"flip", "accept", "ambiguous", "exclude", "auto"} <= statuses


def test_depth_layers_put_each_closer_person_first_and_see_cycles():
    from wsp_core.store.exports import depth_layers

    assert depth_layers([1, 2, 3, 4], [(1, 2), (2, 3), (1, 3)]) == [[1, 4], [2], [3]]
    assert depth_layers([1, 2, 3], [(1, 2), (2, 3), (3, 1)]) is None


def test_csv_export_round_trips_through_review_from(desk_db, tmp_path):
    pairs = _pairs(desk_db, tmp_path)
    _review_some(desk_db, pairs)
    table = tmp_path / "pairs.csv"
    run_cli("export", "--db", desk_db, "--format", "csv", "--out", table)
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == len(pairs) and rows[0]["verdict"] == "flip"
    # read back unchanged: nothing new is written
    again = json.loads(run_cli("review", "--db", desk_db, "--from", table, "--json").stdout)
    assert again["reviews"] == 0 and again["unchanged"] == 5
    # another tool changes two verdicts and adds one
    rows[0]["verdict"], rows[1]["verdict"] = "accept", "flip"
    rows[5]["verdict"], rows[5]["reason"] = "ambiguous", "sitting"
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    done = json.loads(run_cli("review", "--db", desk_db, "--from", table, "--reviewer", "tool",
                              "--json").stdout)
    assert done["reviews"] == 3
    after = _pairs(desk_db, tmp_path)
    ids = [int(r["pair_id"]) for r in rows]
    assert after[ids[0]]["status"] == "accept" and after[ids[1]]["status"] == "flip"
    assert after[ids[5]]["status"] == "ambiguous" and after[ids[5]]["reason"] == "sitting"
    # a bad row names its line, and nothing is written
    rows[7]["verdict"] = "maybe"
    rows[6]["verdict"] = "accept"
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    proc = run_cli("review", "--db", desk_db, "--from", table, check=False)
    assert_one_line_error(proc, str(table), "line 9")
    assert _pairs(desk_db, tmp_path)[ids[6]]["status"] == after[ids[6]]["status"]


def test_the_coco_export_reads_back_as_verdicts(desk_db, tmp_path):
    pairs = _pairs(desk_db, tmp_path)
    _review_some(desk_db, pairs)
    out = tmp_path / "coco"
    out.mkdir()
    files = json.loads(run_cli("export", "--db", desk_db, "--format", "coco", "--out", out,
                               "--json").stdout)["files"]
    path = files[0]["file"]
    doc = json.loads(open(path).read())
    assert json.loads(run_cli("review", "--db", desk_db, "--from", path,
                              "--json").stdout)["reviews"] == 0
    target = doc["images"][0]["wsp_depth"]["pairs"][0]
    target["status"] = "exclude" if target["status"] != "exclude" else "accept"
    target["reason"] = "other" if target["status"] == "exclude" else None
    with open(path, "w") as f:
        json.dump(doc, f)
    assert json.loads(run_cli("review", "--db", desk_db, "--from", path,
                              "--json").stdout)["reviews"] == 1
    assert _pairs(desk_db, tmp_path)[target["pair_id"]]["status"] == target["status"]
