"""A short `paper`-preset WSP pre-training on a GPU, timed as a user runs it (issue 15, point 6).

Generates a synthetic world, imports it into a fresh store, runs ``wsp-core pretrain --preset
paper`` (ResNet-50, 256², batch 64, bf16 autocast, channels-last; a random start, since no
ImageNet file can be fetched on the lent machine, which costs the same time) for a few epochs
while sampling the GPU's utilisation with ``nvidia-smi``, and projects the paper's schedule: 50
epochs of one pair per image of MCPC's ~53,000 images (the paper: ≈ 50 h on 2 × V100; the aim:
≤ 20 minutes on one H200, i.e. ≥ 2,200 crops/s with the GPU ≥ 85 % busy).

The first epoch (cuDNN's autotuning, the first workers) is left out of the rate and of the
utilisation. The rate is the training loop's own per epoch (its crops over the time from asking
the loader for the epoch's first batch to the last step: the wait for each epoch's first batches
included, validation excluded); the utilisation is sampled from each epoch's first logged step
to its last, as are the CPU cores kept busy by the training process's main thread, the whole
process and its loader workers (a main thread near one core may be the limit; its time includes
waiting on the GPU for the previous step's losses).

Usage:
  python scripts/bench_gpu_pretrain.py --out /tmp/gpu [--images 16000] [--epochs 4]
      [--workers 12] [--set compile=true]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MCPC_IMAGES = 53_000
AIM_CROPS_PER_S, AIM_GPU_BUSY = 2_200, 85.0


def wsp_core(*args: str, stdout=None) -> subprocess.Popen:
    """``wsp-core ARGS`` from this checkout (also where the package is not installed)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]), PYTHONUNBUFFERED="1")
    print("$ wsp-core " + " ".join(args), file=sys.stderr, flush=True)
    return subprocess.Popen([sys.executable, "-m", "wsp_core.cli", *args], cwd=ROOT, env=env,
                            stdout=stdout, text=True)


def timed(*args: str) -> float:
    t0 = time.perf_counter()
    proc = wsp_core(*args, stdout=subprocess.DEVNULL)
    if proc.wait():
        raise SystemExit(f"bench_gpu_pretrain: wsp-core {args[0]} failed (exit {proc.returncode})")
    return time.perf_counter() - t0


class GpuSampler:
    """``nvidia-smi``'s utilisation and memory every 200 ms, stamped with this clock."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, float]] = []  # (time, util %, memory MiB)
        try:
            self.proc = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                 "--format=csv,noheader,nounits", "-lms", "200"],
                stdout=subprocess.PIPE, text=True)
        except FileNotFoundError:  # no NVIDIA driver here: no figures, the run still goes
            self.proc = None
            return
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                util, mem = (float(x) for x in line.split(","))
            except ValueError:
                continue
            self.samples.append((time.perf_counter(), util, mem))

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()

    def within(self, windows: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(u, m) for t, u, m in self.samples if any(a <= t <= b for a, b in windows)]


class CpuSampler:
    """Every 250 ms, the CPU seconds of the training process's main thread, of the whole process
    (its pin-memory thread included) and of its worker processes (Linux ``/proc``), to tell
    which one is the limit: a main thread near 100 % is launching kernels as fast as it can."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float, float, float]] = []  # (time, main, process, workers)
        self.done = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    @staticmethod
    def _cpu_s(stat_path: str) -> float:
        with open(stat_path) as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def _children(self) -> list[int]:
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except OSError:   # a kernel without that file: every process's parent, read
            pass
        children = []
        for name in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rpartition(")")[2].split()[1]) == self.pid:
                        children.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
        return children

    def _read(self) -> None:
        while not self.done.wait(0.25):
            try:
                now = time.perf_counter()
                main = self._cpu_s(f"/proc/{self.pid}/task/{self.pid}/stat")
                process = self._cpu_s(f"/proc/{self.pid}/stat")
                workers = 0.0
                for child in self._children():
                    try:
                        workers += self._cpu_s(f"/proc/{child}/stat")
                    except OSError:
                        pass
            except OSError:   # the process has ended
                return
            self.samples.append((now, main, process, workers))

    def stop(self) -> None:
        self.done.set()

    def busy(self, windows: list[tuple[float, float]]) -> dict:
        """Cores in use on average over ``windows`` (1.0 = one core all the time): the main
        thread, the whole training process, its workers."""
        totals, span = [0.0, 0.0, 0.0], 0.0
        for a, b in windows:
            inside = [s for s in self.samples if a <= s[0] <= b]
            if len(inside) < 2:
                continue
            first, last = inside[0], inside[-1]
            span += last[0] - first[0]
            for k in range(3):
                totals[k] += last[k + 1] - first[k + 1]
        if not span:
            return {}
        return {"main_thread_cores": round(totals[0] / span, 2),
                "training_process_cores": round(totals[1] / span, 2),
                "worker_cores": round(totals[2] / span, 2)}


def make_store(out: Path, images: int) -> dict:
    """A synthetic world of ``images`` scenes in ``out/world``, imported into ``out/store.db``."""
    world = out / "world"
    synth_s = timed("synth", "--out", str(world), "--images", str(images), "--overwrite")
    import_s = timed("import", "--db", str(out / "store.db"), "--format", "synth",
                     "--ann", str(world / "scenes.json"), "--images", str(world))
    return {"synth_s": round(synth_s, 1), "import_s": round(import_s, 1)}


def pretrain(out: Path, run: str, epochs: int, workers: int, overrides: list[str]):
    """Run the pre-training, reading its JSON-lines progress; returns each epoch's step window
    (first to last step, on this clock) and metrics row."""
    sets = [f"epochs={epochs}", f"workers={workers}", "device=cuda", *overrides]
    proc = wsp_core("pretrain", "--db", str(out / "store.db"), "--out", str(out / run),
                    "--preset", "paper", "--backbone-weights", "none", "--progress", "jsonl",
                    *[a for s in sets for a in ("--set", s)], stdout=subprocess.PIPE)
    cpu = CpuSampler(proc.pid)
    windows: dict[int, list[float]] = {}
    rows: dict[int, dict] = {}
    for line in proc.stdout:
        now = time.perf_counter()
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "step":
            windows.setdefault(event["epoch"], [now, now])[1] = now
        elif event.get("event") == "epoch":
            rows[event["epoch"]] = event
            print(json.dumps({k: event.get(k) for k in
                              ("epoch", "loss", "time_s", "samples_per_s", "val_accuracy")}),
                  file=sys.stderr, flush=True)
    cpu.stop()
    if proc.wait():
        raise SystemExit(f"bench_gpu_pretrain: pretrain failed (exit {proc.returncode})")
    return windows, rows, cpu


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--images", type=int, default=16_000)
    parser.add_argument("--epochs", type=int, default=4)
    # three quarters of the cores: on a 16-core H200 machine 12 workers fed the run best (8, 12
    # and 15 measured, docs/BENCHMARKS.md); the training process needs cores of its own
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) * 3 // 4))
    parser.add_argument("--run", default="run", help="run folder's name under --out; a world "
                        "and store already in --out are used again")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="another pre-training config override (e.g. compile=true)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"run": args.run, "images": args.images, "epochs": args.epochs, "workers": args.workers,
              "overrides": args.set, "cpus": os.cpu_count()}
    if not (args.out / "store.db").exists():
        result.update(make_store(args.out, args.images))
    sampler = GpuSampler()
    t0 = time.perf_counter()
    windows, rows, cpu = pretrain(args.out, args.run, args.epochs, args.workers, args.set)
    result["pretrain_s"] = round(time.perf_counter() - t0, 1)
    sampler.stop()
    counted = [e for e in sorted(rows) if e >= 1] or sorted(rows)
    rate = sum(rows[e]["samples_per_s"] for e in counted) / len(counted)
    steps = [tuple(windows[e]) for e in counted if e in windows]
    busy = sampler.within(steps)
    result.update({
        "crops_per_s": round(rate, 1),
        "epoch_s": [round(rows[e]["time_s"], 1) for e in sorted(rows)],
        "gpu_busy_pct": round(sum(u for u, _ in busy) / len(busy), 1) if busy else None,
        "gpu_memory_mib": max((m for _, m in busy), default=None),
        **cpu.busy(steps),
        "val_accuracy_last": rows[max(rows)].get("val_accuracy"),
        "projected_50_epochs_53k_images_min": round(MCPC_IMAGES * 50 / rate / 60, 1),
    })
    result["aim_met"] = (rate >= AIM_CROPS_PER_S
                         and (result["gpu_busy_pct"] or 0) >= AIM_GPU_BUSY)
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
