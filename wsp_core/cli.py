"""The ``wsp-core`` command: headless access to everything WSP Studio does.

Errors a user can fix print one line, ``wsp-core: error: <file>: <problem>``, and exit 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import BadValue, InputError, StoreError, WspError
from .logs import redact, setup_logging
from .parser import build_parser
from .store.jobs import CommandJob
from .store.db import is_server, store_target

log = logging.getLogger("wsp_core.cli")  # also when run as __main__ (python -m)


def _progress_bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="row", file=sys.stderr, disable=None, leave=False)


def cmd_import(args: argparse.Namespace) -> int:
    from .formats import read_source
    from .store import import_source, label_source, open_store

    # an existing store is checked before the (possibly long) read; a new one is created only
    # once the input has proved good, so a failed import leaves no empty store behind
    # (a database on a server exists already: its tables are created at once)
    server = is_server(args.db)
    exists = server or args.db.is_dir() or (args.db.exists() and args.db.stat().st_size > 0)
    store = open_store(args.db, create=server) if exists else None
    try:
        data = read_source(args.format, args.ann, args.images, strict=args.strict)
        labelled = label_source(data)
        name = args.name or args.ann.stem
        if len(labelled.pairs) == 0 and store is None:  # nothing to store: no empty store either
            from .store.importer import empty_report

            report = empty_report(labelled, name)
            _emit(args, report.as_dict(), report.summary())
            return 0
        store = store or open_store(args.db)
        rows = int(labelled.keep_image.sum() + labelled.keep_person.sum()) + len(labelled.pairs)
        with _progress_bar(rows, f"import {name}") as bar:
            report = import_source(store, labelled, name, lambda _what, n: bar.update(n),
                                   args.update)
    finally:
        if store is not None:
            store.close()
    _emit(args, report.as_dict(), report.summary())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .store import export_jsonl, open_store
    from .store.exports import export_coco, export_csv
    from .suspect import store_suspicion

    with open_store(args.db, create=False) as store:
        if args.format == "coco":
            files = export_coco(store, args.out, args.source)
            _emit(args, {"out": str(args.out), "files": files}, "\n".join(
                f"wrote {f['file']}: {f['images']} images, {f['annotations']} persons, "
                f"{f['pairs']} pairs" for f in files) or "no pair to export")
            return 0
        with _progress_bar(0, "export") as bar:
            suspicion = store_suspicion(store)
            count = export_csv(store, args.out, args.source, suspicion["scores"]) \
                if args.format == "csv" else \
                export_jsonl(store, args.out, args.source, bar.update, suspicion["scores"])
    how = "learned from the verdicts" if suspicion["learned"] else "before enough verdicts to learn"
    _emit(args, {"out": str(args.out), "pairs": count, "suspicion_model": suspicion["checkpoint"],
                 "suspicion_learned": suspicion["learned"]},
          f"wrote {count} pairs to {args.out} (suspicion {how})")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from .store import add_review, open_store

    if args.from_file is not None:
        if args.pair is not None or args.verdict is not None:
            raise InputError("--from", "takes its pairs and verdicts from the file; drop --pair "
                                       "and --verdict")
        return _review_file(args)
    if args.pair is None or args.verdict is None:
        raise InputError("review", "needs --pair and --verdict (or --from FILE)")
    try:
        with open_store(args.db, create=False) as store:
            review = add_review(store, args.pair, args.verdict, args.reason, args.note,
                                args.reviewer)
    except BadValue as e:
        raise WspError(f"{args.db}: {e}") from None
    label = {1: "a closer", 0: "b closer", None: "not used for training"}[review["label"]]
    _emit(args, review, f"pair {review['pair_id']}: {review['status']} "
                        f"(label {review['label']}: {label})")
    return 0


def _review_file(args: argparse.Namespace) -> int:
    """``review --from FILE``: every row a review, written in one transaction (a CSV or COCO
    export's rows only where they change the pair: wsp_core/review_files.py)."""
    from .review_files import changed_only, is_state_file, read_review_file
    from .store import add_reviews, open_store
    from .store.exports import pair_states

    path = args.from_file
    reviews = read_review_file(path, args.reviewer)
    if not reviews and not is_state_file(path):
        raise InputError(path, "holds no review")
    with open_store(args.db, create=False) as store:
        unchanged = 0
        if is_state_file(path):
            changed = changed_only(reviews, pair_states(store, [r["pair_id"] for r in reviews]))
            unchanged, reviews = len(reviews) - len(changed), changed
        written = add_reviews(store, reviews, where=str(path)) if reviews else []
    pairs = len({r["pair_id"] for r in written})
    _emit(args, {"reviews": len(written), "pairs": pairs, "unchanged": unchanged},
          f"recorded {len(written)} reviews of {pairs} pairs"
          + (f"; {unchanged} rows already so in the store" if unchanged else ""))
    return 0


def cmd_merge_reviews(args: argparse.Namespace) -> int:
    from .store import open_store
    from .store.merge import merge_reviews, merge_summary

    for other in args.stores:
        _check_no_password(other)
    results, lines = [], []
    with open_store(args.db, create=False) as store:
        for other in args.stores:
            with open_store(other, create=False) as source:
                counts = merge_reviews(store, source)
            results.append({"store": str(source.path), **counts})
            lines.append(merge_summary(str(source.path), counts))
    _emit(args, {"merged": results}, "\n".join(lines))
    return 0


def cmd_team(args: argparse.Namespace) -> int:
    from .store import open_store
    from .store.team import (agreement, format_team, reviewer_stats, set_team_settings,
                             team_settings)

    changes = {k: v for k, v in (("consensus", args.consensus),
                                 ("double_review", args.double_review),
                                 ("lease_minutes", args.lease_minutes)) if v is not None}
    if args.adjudicators is not None:
        changes["adjudicators"] = args.adjudicators.split(",")
    with open_store(args.db, create=False) as store:
        if changes:
            settings = set_team_settings(store, **changes)
        else:
            from dataclasses import asdict

            settings = {**asdict(team_settings(store)), "pairs_changed": 0}
        result = {"settings": settings, "agreement": agreement(store),
                  "curators": reviewer_stats(store)}
    _emit(args, result, format_team(result))
    return 0


def cmd_relink(args: argparse.Namespace) -> int:
    from .store import open_store
    from .store.queries import relink_images

    with open_store(args.db, create=False) as store:
        result = relink_images(store, args.source, args.images)
    _emit(args, result, f"source {result['source']}: images now in {result['new']} (were in "
                        f"{result['old']}; {result['found']} of {result['checked']} checked "
                        "files found)")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from .store import open_store, stats

    with open_store(args.db, create=False) as store:
        result = stats(store)
    _emit(args, result, format_stats(result))
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from .synth.world import generate_world

    if args.images < 1 or args.width < 64 or args.height < 64:
        raise WspError(f"{args.out}: need --images >= 1 and an image of at least 64 × 64 px")
    if args.out.exists() and not args.out.is_dir():
        raise WspError(f"{args.out}: exists and is not a folder")
    world = [n for n in ("scenes.json", "images", "single") if (args.out / n).exists()]
    if world and not args.overwrite:
        raise WspError(f"{args.out}: already holds a world ({', '.join(world)}), whose images a "
                       "store may refer to; give --overwrite to replace it, or another folder")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WspError(f"{args.out}: cannot create the folder ({e.strerror})") from None
    with _progress_bar(args.images, "synth") as bar:
        bar.unit = "image"
        summary = generate_world(args.out, args.images, args.seed,
                                 {"width": args.width, "height": args.height}, args.workers,
                                 bar.update)
    _emit(args, summary, f"wrote {summary['images']} scenes ({summary['persons']} persons) to "
                         f"{args.out / 'scenes.json'} and {summary['single_samples']} single-person "
                         f"crops to {args.out / 'single'}")
    return 0


def cmd_noise_report(args: argparse.Namespace) -> int:
    from .store import open_store
    from .evaluate.noise import format_noise_report, noise_report

    with open_store(args.db, create=False) as store:
        report = noise_report(store, args.source)
    _emit(args, report, format_noise_report(report))
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    import torch

    from .train.config import PretrainConfig, load_config
    from .train.pretrain import pretrain

    if args.resume and (args.set or args.preset or args.backbone_weights):
        raise WspError(f"{args.out}: --resume continues with the run's own config "
                       "(config.json); --preset, --set and --backbone-weights are not taken")
    preset = args.preset or ("paper" if torch.cuda.is_available() else "cpu-small")
    overrides = args.set + ([f"backbone_weights={args.backbone_weights}"]
                            if args.backbone_weights else [])
    cfg = load_config(PretrainConfig, preset, overrides)
    db = args.db
    if db is None and args.resume:
        db = _run_store(args.out)
    if db is None and not args.resume:
        raise WspError("--db: a store is needed to start a run")
    summary = pretrain(db, args.out, cfg, args.resume, "none" if args.json else args.progress)
    if args.json:
        print(json.dumps(summary, default=str))
    elif args.progress != "jsonl":
        print(f"{summary['status']}: {summary['epochs_done']} epochs in {args.out}")
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    import torch

    from .train.config import FinetuneConfig, load_config
    from .train.finetune import finetune

    given = args.set or args.preset or args.init or args.protocol or args.data or args.mts_db
    if args.resume and given:
        raise WspError(f"{args.out}: --resume continues with the run's own config "
                       "(config.json); --data, --init, --preset, --set and --protocol are not taken")
    if not args.resume and not args.data:
        raise WspError("--data: FORMAT:PATH is needed to start a run")
    preset = args.preset or ("paper" if torch.cuda.is_available() else "cpu-small")
    named = args.init is None or args.init.strip().lower() in ("none", "random", "imagenet")
    init = args.init if named else str(Path(args.init).resolve())
    overrides = args.set + ([f"init={init}"] if init else []) + \
        ([f"protocol={args.protocol}"] if args.protocol else []) + \
        ([f"mts_db={args.mts_db.resolve()}"] if args.mts_db else [])
    cfg = load_config(FinetuneConfig, preset, overrides, kind="finetune")
    data = args.data or _run_config(args.out).get("data")
    if not args.resume and cfg.init not in ("none", "imagenet"):  # before the run folder is written
        from .train.checkpoint import wsp_init_checkpoint

        wsp_init_checkpoint(cfg.init, cfg.backbone)
    summary = finetune(data, args.out, cfg, args.resume, "none" if args.json else args.progress,
                       store=args.db)
    if args.json:
        print(json.dumps(summary, default=str))
    elif args.progress != "jsonl":
        print(f"{summary['status']}: {summary['epochs_done']} epochs in {args.out}")
    return 0


def cmd_eval_3d(args: argparse.Namespace) -> int:
    from .atomic import check_target
    from .evaluate.pose3d import format_3d
    from .train.eval3d import eval_3d

    if args.samples is not None:
        check_target(args.samples, "samples.npz", [args.ckpt, args.pred, *_data_files(args.data)])
    if args.pred is not None and args.boxes is not None:
        raise WspError("--boxes: predictions from a file already carry their own boxes")
    result = eval_3d(args.ckpt, args.data, args.protocol, args.action, args.batch, args.workers,
                     args.device, args.samples, args.pred, args.boxes, args.flip,
                     args.progress)
    _emit(args, result, format_3d(result))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .atomic import check_target
    from .infer.batch import predict_frames
    from .infer.boxes import box_source, describe_persons
    from .infer.frames import IMAGE_SUFFIXES, frame_count, kind_of

    inputs = [args.ckpt or args.onnx, args.input]
    one = args.input.suffix.lower() in IMAGE_SUFFIXES       # outputs are checked before any work
    if args.out is not None:
        check_target(args.out, "pose.json" if one else "poses.jsonl", inputs)
    if args.csv is not None:
        check_target(args.csv, "poses.csv", inputs + [args.out])
    kind = kind_of(args.input)
    source = box_source(_given_boxes(args), args.boxes, _detector(args), single=kind == "image")
    network = _pose_network(args)
    results = predict_frames(args.input, network, source, args.focal)
    if kind == "image":
        result = next(results)
        _write_outputs(args, [result])
        _emit(args, result, describe_persons(result))
        return 0
    with _progress_bar(frame_count(args.input) or 0, "predict") as bar:
        done = _write_outputs(args, results, bar.update, echo=args.out is None)
    summary = {"input": str(args.input), "frames": done["frames"], "persons": done["persons"],
               "unreadable": done["errors"], "out": str(args.out) if args.out else None,
               "csv": str(args.csv) if args.csv else None}
    args.result = summary
    if args.out is not None:
        print(json.dumps(summary) if args.json else
              f"{done['frames']} frames, {done['persons']} persons ({done['errors']} unreadable) "
              f"in {args.out}")
    return 0


def _given_boxes(args: argparse.Namespace) -> list[list[float]]:
    ways = [bool(args.box), args.boxes is not None, args.detect or args.detector is not None]
    if sum(ways) > 1:
        raise WspError("--box, --boxes and --detect: give the boxes one way")
    boxes = []
    for text in args.box:
        try:
            boxes.append([float(v) for v in text.split(",")])
        except ValueError:
            raise WspError(f"--box {text}: expected four numbers x,y,w,h") from None
    return boxes


def _detector(args: argparse.Namespace):
    if not (args.detect or args.detector is not None):
        return None
    from .infer.detect import make_detector

    return make_detector(args.detector, args.score_min, layout=args.detector_layout)


def _pose_network(args: argparse.Namespace):
    if args.onnx is not None:
        from .infer.onnx_runtime import OnnxPoseNetwork

        return OnnxPoseNetwork(args.onnx)
    from .train.photo import TorchPoseNetwork

    return TorchPoseNetwork(args.ckpt, args.device)


def _write_outputs(args: argparse.Namespace, results, progress=None,
                   echo: bool = False) -> dict[str, int]:
    """Each result to ``--out`` (one JSON document for an image, else JSON lines), ``--csv``,
    and, with ``echo``, stdout as JSON lines; all files written atomically at the end."""
    from contextlib import ExitStack

    from .atomic import atomic_write
    from .infer.batch import CsvRows

    counts = {"frames": 0, "persons": 0, "errors": 0}
    with ExitStack() as stack:
        out = stack.enter_context(atomic_write(args.out)) if args.out is not None else None
        table = CsvRows(stack.enter_context(atomic_write(args.csv))) if args.csv else None
        single = isinstance(results, list)
        for result in results:
            counts["frames"] += 1
            counts["persons"] += len(result.get("persons", []))
            counts["errors"] += "error" in result
            if out is not None:
                out.write(json.dumps(result, indent=1) if single else json.dumps(result) + "\n")
            if table is not None:
                table.add(result)
            if echo:
                print(json.dumps(result), flush=True)
            if progress is not None:
                progress(1)
    return counts


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from .atomic import check_target

    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise WspError(f"export-onnx needs onnx, onnxscript and onnxruntime ({e}): pip install "
                       "'wsp-studio[onnx]'") from None
    from .train.onnx_export import export_onnx

    check_target(args.out, "model.onnx", [args.ckpt])
    summary = export_onnx(args.ckpt, args.out)
    _emit(args, summary, f"wrote {args.out}: the {summary['kind']} network, input "
                         f"{summary['input_size']} px, dynamic batch; ONNX Runtime's outputs "
                         f"within {summary['max_abs_difference']:.2g} of torch's")
    return 0


def _data_files(data: str) -> list[Path]:
    """The input of a ``FORMAT:PATH`` data argument (a file, or a folder: every file in it)."""
    return [Path(data.partition(":")[2] or data)]


def _run_config(out: Path) -> dict:
    try:
        return json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return {}


def _run_store(out: Path) -> Path | None:
    try:
        return store_target(json.loads((out / "config.json").read_text())["db"])
    except (OSError, ValueError, KeyError):
        return None


def cmd_eval_rd(args: argparse.Namespace) -> int:
    from .evaluate.relative_depth import format_rd_tables
    from .train.rd import eval_rd

    protocols = (1, 2) if args.protocol == "both" else (int(args.protocol),)
    result = eval_rd(args.ckpt, args.db, args.manifest, args.split, protocols, args.batch,
                     args.workers, args.device, args.order_seed, args.progress)
    _emit(args, result, format_rd_tables(result))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from .atomic import same_file_as
    from .store.db import store_files
    from .train.rd import score_store

    if (args.ckpt is None) == (args.folds is None):
        raise InputError("score", "takes --ckpt CKPT or --folds K (with --out), one of them")
    if args.folds is not None:
        return _score_folds(args)
    if args.out is not None or args.preset or args.set:
        raise InputError("score", "--out, --preset and --set go with --folds")
    if same_file_as(args.ckpt, store_files(args.db)) is not None:
        raise WspError(f"{args.db}: is the checkpoint given with --ckpt; refusing to write "
                       "scores into it")
    result = score_store(args.db, args.ckpt, args.batch, args.workers, args.device,
                         args.progress)
    _emit(args, result, f"scored {result['pairs']} pairs with {result['checkpoint']} "
                        f"({_sample_words(result)}): {result['disagreeing']} disagree with "
                        "their label")
    return 0


def _sample_words(result: dict[str, Any]) -> str:
    unknown = result["pairs"] - result["out_of_sample"] - result["in_sample"]
    return (f"{result['out_of_sample']} out-of-sample, {result['in_sample']} in-sample"
            + (f", {unknown} not known (the run trained on another store)" if unknown else ""))


def _score_folds(args: argparse.Namespace) -> int:
    import torch

    from .train.folds import score_folds

    if args.out is None:
        raise InputError("--folds", "needs --out, a new folder for the fold runs")
    preset = args.preset or ("paper" if torch.cuda.is_available() else "cpu-small")
    result = score_folds(args.db, args.out, args.folds, preset, args.set,
                         "none" if args.json else args.progress, args.batch, args.workers,
                         args.device)
    _emit(args, result, f"scored {result['pairs']} pairs out-of-sample with {args.folds} fold "
                        f"networks in {result['checkpoint']}: {result['disagreeing']} disagree "
                        "with their label")
    return 0


def format_stats(result: dict[str, Any]) -> str:
    lines = [f"store {result['store']}"]
    header = (f"{'source':<20} {'format':<10} {'images':>7} {'persons':>8} {'mcpc':>7} "
              f"{'pairs':>8} {'a closer':>9} {'reviewed':>9} {'ΔS≤0.1':>7} {'ΔS≤0.3':>7}")
    lines += [header, "-" * len(header)]
    for s in result["sources"]:
        frac = "-" if s["a_closer_fraction"] is None else f"{100 * s['a_closer_fraction']:.1f}%"
        bins = s["delta_s_bins"]
        lines.append(f"{s['name'][:20]:<20} {s['format']:<10} {s['images']:>7} {s['persons']:>8} "
                     f"{s['mcpc_persons']:>7} {s['pairs']:>8} {frac:>9} {s['reviewed']:>9} "
                     f"{bins['<= 0.1']:>7} {bins['<= 0.3']:>7}")
    t = result["totals"]
    lines.append(f"{'total':<31} {t['images']:>7} {t['persons']:>8} {t['mcpc_persons']:>7} "
                 f"{t['pairs']:>8} {'':>9} {t['reviewed']:>9}")
    r = result["reviews"]
    by = ", ".join(f"{k} {v}" for k, v in sorted(r["by_verdict"].items())) or "none"
    lines.append(f"reviews: {r['total']} ({by}); pairs usable for training: {t['usable']}")
    return "\n".join(lines)


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    """Print a command's result (as JSON with --json); its job row keeps it too."""
    args.result = data
    print(json.dumps(data, default=str) if getattr(args, "json", False) else text)


#: The commands that run a network: they need the ``train`` extra (PyTorch, torchvision).
TORCH_COMMANDS = ("pretrain", "finetune", "eval-rd", "score", "eval-3d", "predict",
                  "export-onnx")


def _check_torch(command: str) -> None:
    """A curator's install has no PyTorch: a command that needs it says which extra to add."""
    if command not in TORCH_COMMANDS:
        return
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError as e:
        raise WspError(f"{command} needs PyTorch and torchvision, which this install lacks "
                       f"({e}): pip install 'wsp-studio[train]'") from None


COMMANDS = {"import": cmd_import, "export": cmd_export, "review": cmd_review,
            "merge-reviews": cmd_merge_reviews, "team": cmd_team, "relink": cmd_relink,
            "stats": cmd_stats, "synth": cmd_synth, "noise-report": cmd_noise_report,
            "pretrain": cmd_pretrain, "eval-rd": cmd_eval_rd, "score": cmd_score,
            "finetune": cmd_finetune, "eval-3d": cmd_eval_3d, "predict": cmd_predict,
            "export-onnx": cmd_export_onnx}


def _check_no_password(db: Path | str | None) -> None:
    """A server store's URL on a command line shows in the process list: no password in it
    (libpq reads PGPASSWORD or ~/.pgpass)."""
    if is_server(db):
        from .store.server import has_password, shown_url

        if has_password(str(db)):
            raise StoreError(shown_url(str(db)), "a password in the URL would show in the "
                                                 "process list; put it in PGPASSWORD or "
                                                 "~/.pgpass")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    words = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
    setup_logging()
    log.info("wsp-core %s", redact(shlex.join(words)))
    job = CommandJob(args.command, getattr(args, "db", None), words)
    try:
        _check_no_password(getattr(args, "db", None))
        _check_torch(args.command if getattr(args, "onnx", None) is None else "predict --onnx")
        code = COMMANDS[args.command](args)
    except WspError as e:
        log.warning("wsp-core %s refused: %s", args.command, redact(str(e)))
        job.end("failed", error=str(e))
        print(f"wsp-core: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        log.info("wsp-core %s interrupted", args.command)
        job.end("stopped")
        print("wsp-core: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        log.exception("wsp-core %s failed", args.command)
        job.end("failed", error=f"{type(e).__name__}: {e}")
        raise
    log.info("wsp-core %s ended (exit %s)", args.command, code)
    job.end("finished" if code == 0 else "failed", getattr(args, "result", None))
    return code


if __name__ == "__main__":
    sys.exit(main())
