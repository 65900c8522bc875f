"""Bad-input corpus, outputs (issue 19, class 1): an output never destroys an input.

Each case: the command as a user runs it, its expected outcome (one line naming the file and the
problem, no traceback), and the store and the inputs left exactly as they were.
"""

import contextlib
import hashlib
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import run_cli
from helpers import write_image
from test_cli import assert_one_line_error, snapshot, store_with_coco  # noqa: F401 - fixture
from wsp_core.atomic import TEMP_MARK, atomic_write, check_target
from wsp_core.errors import InputError

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def leftovers(folder: Path, *keep: str) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n not in keep)


@contextlib.contextmanager
def mounted_tmpfs(folder: Path, options: str):
    """A tmpfs at ``folder`` (root only; the test is skipped where mounting is not allowed)."""
    folder.mkdir(exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` made read-only: a read-only bind mount as root (permissions do not bind
    root), else its mode 0o555."""
    if not ROOT:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    proc = subprocess.run(f"mount --bind '{folder}' '{folder}' && "
                          f"mount -o remount,ro,bind '{folder}'", shell=True,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        pytest.skip(f"cannot make a read-only mount here: {proc.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_export_over_the_store_or_its_wal_is_refused(store_with_coco, tmp_path):
    db = store_with_coco
    before, raw = snapshot(db), digest(db)
    (tmp_path / "link.db").symlink_to(db)
    os.link(db, tmp_path / "hard.db")
    for out in (db, f"{db}-wal", f"{db}-shm", tmp_path / "link.db", tmp_path / "hard.db"):
        proc = run_cli("export", "--db", db, "--out", out, check=False)
        assert_one_line_error(proc, f"{out}: is the same file as the input", "refusing")
    assert snapshot(db) == before and digest(db) == raw
    assert leftovers(tmp_path, "store.db", "link.db", "hard.db") == []


def test_predict_over_its_photo_or_checkpoint_is_refused(tmp_path):
    photo = write_image(tmp_path / "me.jpg", (80, 60))
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"weights")
    before = digest(photo), digest(ckpt)
    for out in (photo, ckpt):
        proc = run_cli("predict", "--ckpt", ckpt, photo, "--out", out, check=False)
        assert_one_line_error(proc, f"{out}: is the same file as the input {out}")
    assert (digest(photo), digest(ckpt)) == before


def test_eval_samples_over_the_data_or_the_checkpoint_are_refused(tmp_path):
    world = tmp_path / "world"
    (world / "single").mkdir(parents=True)
    scenes = world / "scenes.json"
    scenes.write_text("{}")
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"weights")
    proc = run_cli("eval-3d", "--ckpt", ckpt, "--data", f"synth:{world}", "--samples", scenes,
                   check=False)
    assert_one_line_error(proc, f"{scenes}: is a file of the input folder {world}")
    proc = run_cli("eval-3d", "--ckpt", ckpt, "--data", f"synth:{world}", "--samples", ckpt,
                   check=False)
    assert_one_line_error(proc, f"{ckpt}: is the same file as the input")
    assert scenes.read_text() == "{}" and ckpt.read_bytes() == b"weights"


def test_score_into_its_own_checkpoint_is_refused(store_with_coco):
    db = store_with_coco
    before = digest(db)
    assert_one_line_error(run_cli("score", "--db", db, "--ckpt", db, check=False),
                          f"{db}: is the checkpoint given with --ckpt")
    assert digest(db) == before


def test_export_into_a_fifo_is_written_in_place(store_with_coco, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    run_cli("export", "--db", store_with_coco, "--out", fifo)
    reader.join(30)
    assert len(received[0].splitlines()) == 12
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert leftovers(tmp_path, "store.db", "pipe") == []


@pytest.mark.skipif(not ROOT, reason="device nodes can only be made as root")
def test_export_into_a_device_node_leaves_it_a_device(store_with_coco, tmp_path):
    """A private null device, a private full device (writes fail with ENOSPC) and a block
    device node, made in the test: the first two are written in place, the last refused."""
    db = store_with_coco
    before = snapshot(db)
    null, full, block = tmp_path / "null", tmp_path / "full", tmp_path / "block"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    os.mknod(block, stat.S_IFBLK | 0o600, os.makedev(7, 250))
    out = run_cli("export", "--db", db, "--out", null)
    assert "wrote 12 pairs" in out.stdout
    assert_one_line_error(run_cli("export", "--db", db, "--out", full, check=False),
                          f"{full}: cannot write: no space left on device")
    assert_one_line_error(run_cli("export", "--db", db, "--out", block, check=False),
                          f"{block}: exists and is a block device")
    for node, kind in ((null, stat.S_ISCHR), (full, stat.S_ISCHR), (block, stat.S_ISBLK)):
        assert kind(os.lstat(node).st_mode), node
    after = snapshot(db)
    # the one export that worked recorded its job; the refused ones left the store as it was
    assert [row[1] for row in after.pop("jobs")] == [row[1] for row in before.pop("jobs")] + \
        ["export"]
    assert after == before
    assert leftovers(tmp_path, "store.db", "null", "full", "block") == []


def test_export_into_a_read_only_folder(store_with_coco, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder):
        proc = run_cli("export", "--db", store_with_coco, "--out", folder / "pairs.jsonl",
                       check=False)
        assert_one_line_error(proc, f"{folder / 'pairs.jsonl'}: cannot write in folder {folder}")
        assert os.listdir(folder) == []


@pytest.mark.skipif(not ROOT, reason="needs a small tmpfs (mount, as root)")
def test_export_onto_a_full_disk_leaves_no_temporary_file(store_with_coco, tmp_path):
    with mounted_tmpfs(tmp_path / "small", "size=8k") as small:
        (small / "pairs.jsonl").write_text("the previous export\n")
        proc = run_cli("export", "--db", store_with_coco, "--out", small / "pairs.jsonl",
                       check=False)
        assert_one_line_error(proc, "pairs.jsonl: cannot write: no space left on device")
        assert os.listdir(small) == ["pairs.jsonl"]
        assert (small / "pairs.jsonl").read_text() == "the previous export\n"


KILLED_WRITER = r"""
import sys, time
from wsp_core.atomic import atomic_write
with atomic_write(sys.argv[1]) as f:
    f.write("x" * 1_000_000)
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def test_a_killed_write_leaves_nothing_behind(tmp_path):
    out = tmp_path / "big.jsonl"
    out.write_text("old\n")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(out)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert os.listdir(tmp_path) == ["big.jsonl"] and out.read_text() == "old\n"


def test_temporaries_of_dead_processes_are_removed(tmp_path):
    """Where O_TMPFILE is missing, a named temporary is used; one left by a killed process is
    removed by the next write to the same file (a living process's is kept)."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".pairs.jsonl.{dead.pid}.ab12{TEMP_MARK}"
    alive = tmp_path / f".pairs.jsonl.{os.getpid()}.cd34{TEMP_MARK}"
    other = tmp_path / f".other.jsonl.{dead.pid}.ef56{TEMP_MARK}"
    for f in (stale, alive, other):
        f.write_text("partial")
    with atomic_write(tmp_path / "pairs.jsonl") as f:
        f.write("new\n")
    assert not stale.exists() and alive.exists() and other.exists()
    assert (tmp_path / "pairs.jsonl").read_text() == "new\n"


def test_atomic_write_without_o_tmpfile(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    out = tmp_path / "a.json"
    with atomic_write(out) as f:
        f.write("{}")
        assert [n for n in os.listdir(tmp_path) if n.endswith(TEMP_MARK)]
    assert os.listdir(tmp_path) == ["a.json"] and out.read_text() == "{}"
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_failed_write_keeps_the_old_file(tmp_path):
    out = tmp_path / "a.json"
    out.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(out) as f:
        f.write("new")
        raise RuntimeError("the caller failed")
    assert os.listdir(tmp_path) == ["a.json"] and out.read_text() == "old"


def test_check_target_names_the_problem(tmp_path):
    a = write_image(tmp_path / "a.jpg")
    with pytest.raises(InputError, match="is the same file as the input"):
        check_target(tmp_path / "." / "a.jpg", inputs=[a])
    sock_path = tmp_path / "s"
    import socket

    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock_path))
        with pytest.raises(InputError, match="exists and is a socket"):
            check_target(sock_path)
        with pytest.raises(InputError, match="exists and is a socket"), \
                atomic_write(sock_path) as f:
            f.write("never")
        assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)
    assert check_target(tmp_path / "new.json", inputs=[a, None]) == tmp_path / "new.json"
