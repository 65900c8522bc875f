"""The wsp-core command as a user runs it: output, exit codes, one-line errors, store unchanged."""

import hashlib
import json

import pytest

from conftest import run_cli, sample
from helpers import snapshot, two_person_coco, write_image
from wsp_core.store import open_store, pair_history


@pytest.fixture
def store_with_coco(db):
    """The COCO sample's store file (other test modules take it for file-level cases)."""
    return _import_coco(db)


@pytest.fixture
def coco_store(any_db):
    """The COCO sample's store on each back end (a file, a PostgreSQL database)."""
    return _import_coco(any_db)


def _import_coco(db):
    run_cli("import", "--db", db, "--format", "coco", "--ann", sample("coco", "test_coco.json"),
            "--images", sample("coco"), "--name", "coco")
    return db


def test_import_then_stats_then_export(coco_store, tmp_path):
    db = coco_store
    out = run_cli("import", "--db", db, "--format", "crowdpose", "--ann",
                  sample("crowdpose", "test_crowdpose.json"), "--images", sample("crowdpose"),
                  "--json")
    report = json.loads(out.stdout)
    assert (report["pairs"], report["new_pairs"], report["mcpc_images"]) == (1, 1, 1)
    text = run_cli("stats", "--db", db).stdout
    assert "coco" in text and "test_crowdpose" in text and "13" in text
    data = json.loads(run_cli("stats", "--db", db, "--json").stdout)
    assert data["totals"]["pairs"] == 13
    out_file = tmp_path / "pairs.jsonl"
    summary = json.loads(run_cli("export", "--db", db, "--out", out_file, "--json").stdout)
    lines = out_file.read_text().splitlines()
    assert summary["pairs"] == len(lines) == 13
    assert all(json.loads(line)["label"] in (0, 1) for line in lines)


def test_mpii_single_person_import_says_so(db):
    out = run_cli("import", "--db", db, "--format", "mpii", "--ann", sample("mpii", "test_mpii.json"),
                  "--images", sample("mpii"))
    assert "no MCPC pair" in out.stdout and "5 images, 5 persons read" in out.stdout


def test_review_from_the_command_line(coco_store, tmp_path):
    db = coco_store
    out = json.loads(run_cli("review", "--db", db, "--pair", 2, "--verdict", "flip", "--reason",
                             "stairs", "--note", "on a step", "--reviewer", "kim", "--json").stdout)
    assert out["status"] == "flip" and out["label"] == 1 - out["auto_label"]
    run_cli("export", "--db", db, "--out", tmp_path / "e.jsonl")
    row = [json.loads(x) for x in (tmp_path / "e.jsonl").read_text().splitlines()][1]
    assert (row["pair_id"], row["status"], row["reason"], row["label"]) == \
        (2, "flip", "stairs", out["label"])


def test_bulk_reviews_from_a_file_in_one_transaction(coco_store, tmp_path):
    """review --from: many verdicts at once; a bad line (named by its number) writes nothing."""
    db = coco_store
    good = tmp_path / "good.jsonl"
    good.write_text('{"pair": 1, "verdict": "flip", "reason": "stairs", "reviewer": "kim"}\n'
                    "\n"
                    '{"pair": 2, "verdict": "exclude", "note": "blurred"}\n'
                    '{"pair": 1, "verdict": "reset"}\n')
    out = json.loads(run_cli("review", "--db", db, "--from", good, "--reviewer", "lee",
                             "--json").stdout)
    assert out == {"reviews": 3, "pairs": 2, "unchanged": 0}
    with open_store(db) as st:
        assert [(r["verdict"], r["reviewer"]) for r in pair_history(st, 1)] == \
            [("flip", "kim"), ("reset", "lee")]
        assert [(r["verdict"], r["note"]) for r in pair_history(st, 2)] == [("exclude", "blurred")]
    before = snapshot(db)
    for text, problem in (('{"pair": 1, "verdict": "flip"}\n{"pair": 2, "verdict": "maybe"}\n',
                           "line 2: unknown verdict 'maybe'"),
                          ('{"pair": 1, "verdict": "flip"}\n{"pair": 999, "verdict": "flip"}\n',
                           "line 2: pair 999 does not exist"),
                          ('{"pair": 1, "verdict": "flip"}\n\n{"pair": 1, "verdict": "flip", '
                           '"reason": "tired"}\n', "line 3: unknown reason 'tired'"),
                          ('{"pair": 1, "verdict": "flip"}\n{"pair": 2, "verdict": \n',
                           "line 2: not JSON"),
                          ('{"pair": "1", "verdict": "flip"}\n', "line 1: 'pair' must be"),
                          ('{"pair": 1, "verdict": "flip", "why": "x"}\n',
                           "line 1: unknown keys ['why']")):
        bad = tmp_path / "bad.jsonl"
        bad.write_text(text)
        assert_one_line_error(run_cli("review", "--db", db, "--from", bad, check=False),
                              str(bad), problem)
    assert snapshot(db) == before                                   # nothing of it written
    assert_one_line_error(run_cli("review", "--db", db, "--from", good, "--pair", 1,
                                  check=False), "drop --pair")
    assert_one_line_error(run_cli("review", "--db", db, "--pair", 1, check=False),
                          "needs --pair and --verdict")


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("wsp-core: error: ")
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def bad_inputs(tmp_path):
    ann, images = two_person_coco(tmp_path)
    good = json.loads(ann.read_text())

    def variant(name, mutate):
        d = json.loads(json.dumps(good))
        mutate(d)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(d))
        return path

    malformed = tmp_path / "malformed.json"
    malformed.write_text('{"images": [1,}')
    write_image(tmp_path / "escape.jpg")
    return images, {
        "malformed": (malformed, "coco", ["malformed.json", "malformed JSON"]),
        "length": (variant("length", lambda d: d["annotations"][0]["keypoints"].pop()),
                   "coco", ["length.json", "keypoint list of length 50"]),
        "negative": (variant("negative", lambda d: d["annotations"][0]["keypoints"].__setitem__(0, -5)),
                     "coco", ["negative.json", "joint 0 (nose) at x=-5", "outside the image"]),
        "nan": (variant("nan", lambda d: d["annotations"][1]["keypoints"].__setitem__(46, float("nan"))),
                "coco", ["nan.json", "joint 15 (left_ankle)", "non-finite coordinate"]),
        "missing image": (variant("missing", lambda d: d["images"][0].__setitem__("file_name", "gone.jpg")),
                          "coco", ["missing.json", "'gone.jpg' not found"]),
        "escape": (variant("escape", lambda d: d["images"][0].__setitem__("file_name", "../escape.jpg")),
                   "coco", ["escape.json", "escapes the image root"]),
        "unknown format": (ann, "cocoa", ["ann.json", "unknown format 'cocoa'"]),
    }


def test_bad_input_gives_one_line_and_leaves_the_store_unchanged(coco_store, tmp_path):
    db = coco_store
    before = snapshot(db)
    images, cases = bad_inputs(tmp_path)
    for name, (ann, fmt, fragments) in cases.items():
        # --strict: per-annotation problems refuse the file too (without it they are skipped
        # or corrected and reported: tests/test_bad_inputs.py)
        proc = run_cli("import", "--db", db, "--format", fmt, "--ann", ann, "--images", images,
                       "--strict", check=False)
        assert_one_line_error(proc, *fragments)
        assert snapshot(db) == before, name


def test_a_db_that_is_not_a_store(tmp_path):
    ann, images = two_person_coco(tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    digest = hashlib.sha256(notes.read_bytes()).hexdigest()
    for args in (["import", "--format", "coco", "--ann", ann, "--images", images],
                 ["stats"], ["export", "--out", tmp_path / "x.jsonl"],
                 ["review", "--pair", 1, "--verdict", "flip"]):
        proc = run_cli(args[0], "--db", notes, *args[1:], check=False)
        assert_one_line_error(proc, "notes.txt", "not a WSP store")
    assert hashlib.sha256(notes.read_bytes()).hexdigest() == digest
    assert not (tmp_path / "x.jsonl").exists()


def test_review_errors_are_one_line(coco_store):
    db = coco_store
    before = snapshot(db)
    assert_one_line_error(run_cli("review", "--db", db, "--pair", 999, "--verdict", "flip",
                                  check=False), "pair 999 does not exist")
    assert_one_line_error(run_cli("review", "--db", db, "--pair", 1, "--verdict", "perhaps",
                                  check=False), "unknown verdict 'perhaps'")
    assert_one_line_error(run_cli("review", "--db", db, "--pair", 1, "--verdict", "flip",
                                  "--reason", "tired", check=False), "unknown reason 'tired'")
    assert snapshot(db) == before


def test_export_to_a_missing_folder_fails_cleanly(coco_store, tmp_path):
    proc = run_cli("export", "--db", coco_store, "--out", tmp_path / "no" / "x.jsonl",
                   check=False)
    assert_one_line_error(proc, "does not exist")


def test_failed_import_into_a_new_store_creates_nothing(tmp_path):
    ann, images = two_person_coco(tmp_path)
    ann.write_text("{not json")
    db = tmp_path / "new.db"
    assert_one_line_error(run_cli("import", "--db", db, "--format", "coco", "--ann", ann,
                                  "--images", images, check=False), "malformed JSON")
    assert not db.exists()


def test_import_without_pairs_creates_no_store(tmp_path):
    db = tmp_path / "none.db"
    out = run_cli("import", "--db", db, "--format", "mpii", "--ann", sample("mpii", "test_mpii.json"),
                  "--images", sample("mpii"))
    assert "no MCPC pair" in out.stdout and not db.exists()


def test_an_empty_file_is_a_new_store(tmp_path):
    ann, images = two_person_coco(tmp_path)
    db = tmp_path / "empty.db"
    db.write_bytes(b"")
    out = run_cli("import", "--db", db, "--format", "coco", "--ann", ann, "--images", images)
    assert "1 pairs" in out.stdout


def test_export_into_a_folder_and_synth_into_an_impossible_place(coco_store, tmp_path):
    assert_one_line_error(run_cli("export", "--db", coco_store, "--out", tmp_path,
                                  check=False), "is a folder")
    (tmp_path / "afile").write_text("x")
    assert_one_line_error(run_cli("synth", "--out", tmp_path / "afile" / "w", "--images", 1,
                                  check=False), "cannot create the folder")


def test_outputs_in_a_missing_folder_are_refused_before_any_work(tmp_path):
    missing = tmp_path / "no" / "samples.npz"
    proc = run_cli("eval-3d", "--ckpt", tmp_path / "any.pt", "--data", "synth:w",
                   "--samples", missing, check=False)
    assert_one_line_error(proc, f"{missing}: folder {missing.parent} does not exist")
    proc = run_cli("predict", "--ckpt", tmp_path / "any.pt", tmp_path / "p.jpg",
                   "--out", tmp_path, check=False)
    assert_one_line_error(proc, "is a folder; give a file name like pose.json")


def test_every_command_is_logged_with_its_refusal_and_no_password(tmp_path, monkeypatch):
    """wsp-core writes what it did to the rotating log (WSP_LOG_DIR here), a refused input as
    a warning, and never a password given in a URL."""
    import logging

    from wsp_core.cli import main
    from wsp_core.logs import LOG_FILE, redact

    monkeypatch.setenv("WSP_LOG_DIR", str(tmp_path / "logs"))
    bad = tmp_path / "not-a-store.txt"
    bad.write_text("hello")
    try:
        assert main(["stats", "--db", str(bad)]) == 2
        for h in logging.getLogger("wsp_core").handlers:
            h.flush()
        text = (tmp_path / "logs" / LOG_FILE).read_text()
    finally:
        for name in ("wsp_core", "wsp_app"):
            for h in list(logging.getLogger(name).handlers):
                if getattr(h, "wsp_log", "").startswith(str(tmp_path)):
                    logging.getLogger(name).removeHandler(h)
                    h.close()
    assert f"wsp-core stats --db {bad}" in text
    assert "WARNING wsp_core.cli: wsp-core stats refused:" in text and str(bad) in text
    assert redact("--db postgresql+psycopg://ana:s3cret@db.lab/wsp") == \
        "--db postgresql+psycopg://ana:***@db.lab/wsp"
    assert redact("/data/a:b@c.db") == "/data/a:b@c.db"  # not a URL: untouched


def test_every_command_given_a_store_records_its_own_job(coco_store, tmp_path):
    """Whoever runs it (a terminal here), a command given --db leaves its row in that store's
    jobs table when it ends well: its words, its start and end, its --json result. A refused
    command leaves the store exactly as it was."""
    from wsp_core.store.jobs import list_jobs

    db = coco_store
    run_cli("stats", "--db", db, "--json")
    run_cli("export", "--db", db, "--out", tmp_path / "pairs.jsonl")
    before = snapshot(db)
    assert_one_line_error(run_cli("review", "--db", db, "--pair", 999, "--verdict", "flip",
                                  check=False), "pair 999 does not exist")
    assert snapshot(db) == before
    with open_store(db) as st:
        jobs = list_jobs(st)
    assert [j["kind"] for j in jobs] == ["import", "stats", "export"]  # import made the store
    stats = jobs[1]
    assert stats["status"] == "finished" and stats["run_dir"] is None
    assert stats["metrics"]["sources"][0]["name"] == "coco"
    with open_store(db) as st, st.read() as session:
        from sqlalchemy import text

        argv, started, finished = session.execute(text(
            "SELECT CAST(config AS TEXT), started_at, finished_at FROM jobs WHERE id = :i"),
            {"i": stats["id"]}).one()
    assert json.loads(argv)["argv"] == ["stats", "--db", str(db), "--json"]
    assert started <= finished


def test_relink_points_a_source_at_its_moved_images(tmp_path):
    from helpers import crowd_store

    db = crowd_store(tmp_path)
    (tmp_path / "images").rename(tmp_path / "moved")
    before = snapshot(db)
    assert_one_line_error(run_cli("relink", "--db", db, "--source", "crowd", "--images",
                                  tmp_path, check=False),
                          "does not hold the images of source 'crowd'", "first missing: crowd.jpg")
    assert_one_line_error(run_cli("relink", "--db", db, "--source", "crowds", "--images",
                                  tmp_path / "moved", check=False), "no source named 'crowds'")
    assert snapshot(db) == before
    out = json.loads(run_cli("relink", "--db", db, "--source", "crowd", "--images",
                             tmp_path / "moved", "--json").stdout)
    assert (out["found"], out["checked"]) == (1, 1)
    run_cli("export", "--db", db, "--out", tmp_path / "pairs.jsonl")
    first = json.loads((tmp_path / "pairs.jsonl").read_text().splitlines()[0])
    assert first["image"] == str(tmp_path / "moved" / "crowd.jpg")


def test_a_note_from_the_terminal_and_a_bad_one_in_a_bulk_file(coco_store, tmp_path):
    db = coco_store
    out = json.loads(run_cli("review", "--db", db, "--pair", 3, "--verdict", "note", "--note",
                             "two dancers", "--json").stdout)
    assert (out["verdict"], out["status"], out["note"]) == ("note", "auto", "two dancers")
    assert_one_line_error(run_cli("review", "--db", db, "--pair", 3, "--verdict", "note",
                                  check=False), "a note needs its text")
    bad = tmp_path / "bulk.jsonl"
    bad.write_text('{"pair": 1, "verdict": "flip"}\n{"pair": 2, "verdict": "note"}\n')
    before = snapshot(db)
    assert_one_line_error(run_cli("review", "--db", db, "--from", bad, check=False),
                          "line 2: a note needs its text")
    assert snapshot(db) == before
