"""The export's fast path (plain SQL rows, keypoints spliced as stored) writes exactly the
objects ``iter_export`` builds, for every kind of value a pair can hold."""

import json

from conftest import import_samples
from wsp_core.store import add_review, export_jsonl, iter_export, open_store


def test_export_lines_are_the_rows_of_iter_export(db, tmp_path):
    import_samples(db, "coco", "crowdpose")
    with open_store(db) as store:
        add_review(store, 1, "ambiguous", "hugging", note='say "hi"')
        add_review(store, 2, "flip", "stairs")
        with store.write() as session:  # a source name and a folder a JSON string must escape
            session.connection().exec_driver_sql(
                "UPDATE sources SET name = 'cöco \"2017\"\\', images_dir = '/data/ü\\x' "
                "WHERE name = 'test_coco'")
            session.connection().exec_driver_sql("UPDATE persons SET scale = NULL WHERE id = 1")
            session.connection().exec_driver_sql("UPDATE pairs SET delta_s = NULL WHERE id = 1")
        rows = list(iter_export(store))
        count = export_jsonl(store, tmp_path / "pairs.jsonl")
    lines = (tmp_path / "pairs.jsonl").read_text().splitlines()
    assert count == len(lines) == len(rows) == 13
    assert [json.loads(line) for line in lines] == rows
    assert lines[0].isascii() and rows[0]["source"] == 'cöco "2017"\\'
    assert rows[0]["a"]["scale"] is None and rows[0]["delta_s"] is None
    assert (rows[0]["label"], rows[0]["reason"], rows[1]["status"]) == (None, "hugging", "flip")
    assert lines == [json.dumps(r, separators=(",", ":")) for r in rows]
    with open_store(db) as store:
        export_jsonl(store, tmp_path / "one.jsonl", "test_crowdpose")
        scores = {1: 0.25, 2: 1 / 3, 3: float("nan")}          # pair 4 on: none
        rows = list(iter_export(store, suspicion=scores))
        export_jsonl(store, tmp_path / "s.jsonl", suspicion=scores)
    assert [json.loads(x)["source"] for x in (tmp_path / "one.jsonl").read_text().splitlines()] \
        == ["test_crowdpose"]
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    assert [json.loads(line)["suspicion"] for line in lines[:4]] == [0.25, 1 / 3, None, None]
    rows[2]["suspicion"] = None                                 # NaN is written as null
    assert [json.loads(line) for line in lines] == rows


def test_the_cli_export_gives_every_pair_the_learned_suspicion(db, tmp_path):
    from conftest import run_cli
    from wsp_core.suspect import store_suspicion

    import_samples(db, "coco", "crowdpose", "mpii")
    out = json.loads(run_cli("export", "--db", db, "--out", tmp_path / "p.jsonl",
                             "--json").stdout)
    assert out["suspicion_learned"] is False and out["suspicion_model"] is None
    rows = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    with open_store(db) as store:
        expected = store_suspicion(store)["scores"]
    assert len(rows) == out["pairs"] > 0 and all(0 <= r["suspicion"] <= 1 for r in rows)
    assert {r["pair_id"]: r["suspicion"] for r in rows} == expected


def test_training_rows_carry_the_3d_truth(tmp_path):
    """``iter_export(with_truth=True)`` (the manifest's rows): format, file name, and the truth
    from the persons' stored 3D joints, equal to the pelvis depths' order."""
    from wsp_core.cli import main
    from wsp_core.skeleton import FORMAT_JOINT_SETS
    from wsp_core.synth.world import generate_world

    generate_world(tmp_path / "w", 4, seed=5, workers=1)
    db = tmp_path / "w.db"
    assert main(["import", "--db", str(db), "--format", "synth", "--ann",
                 str(tmp_path / "w" / "scenes.json"), "--images", str(tmp_path / "w")]) == 0
    pelvis = FORMAT_JOINT_SETS["synth"].index("pelvis")
    with open_store(db) as store, store.read() as session:
        depth = dict(session.connection().exec_driver_sql(
            "SELECT id, keypoints_cam FROM persons").all())
        rows = list(iter_export(store, with_truth=True))
    assert rows and {r["format"] for r in rows} == {"synth"}
    for r in rows:
        za = json.loads(depth[r["a"]["person_id"]])[pelvis][2]
        zb = json.loads(depth[r["b"]["person_id"]])[pelvis][2]
        assert r["truth"] == int(za < zb) and r["image"].endswith(r["file_name"])
