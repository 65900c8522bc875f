"""The ``wsp-core`` command line: every command and option, defined once.

The CLI (wsp_core/cli.py) parses with it; the app's Jobs tab builds its forms from it
(wsp_core/launch.py), so a form and the command it runs cannot drift apart. Torch-free and
cheap to import: nothing here runs a command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import __version__
from .evaluate.protocols import PROTOCOLS as SUBJECT_PROTOCOLS
from .formats import FORMATS
from .store.db import store_target
from .verdicts import REASONS, VERDICTS

#: The 3D protocols of fine-tuning and eval-3d (docs/EVALUATION.md): the subject protocols,
#: "custom" (the run's own subject lists) and "all" (every sample).
PROTOCOLS = (*SUBJECT_PROTOCOLS, "custom", "all")


def _add_import(sub) -> None:
    p = sub.add_parser("import", help="read a 2D/3D source, select MCPC images, label pairs")
    p.add_argument("--db", required=True, type=store_target, help="the store (created if missing)")
    p.add_argument("--format", required=True, metavar="FORMAT",
                   help=f"{', '.join(FORMATS)} (docs/FORMATS.md)")
    p.add_argument("--ann", required=True, type=Path,
                   help="annotation file (posetrack: a file or a folder of files)")
    p.add_argument("--images", required=True, type=Path, help="folder the image paths are in")
    p.add_argument("--name", help="source name in the store (default: the annotation file's stem)")
    p.add_argument("--strict", action="store_true",
                   help="refuse the file at the first annotation, joint or image that would be "
                        "skipped or corrected (docs/FORMATS.md)")
    p.add_argument("--update", action="store_true",
                   help="the file changed since this source was imported: re-label the changed "
                        "persons' pairs (their reviews are reset; other reviews are kept)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="write every pair with its effective label (JSON lines, "
                                      "CSV, or COCO-style keypoint files with the depth order)")
    p.add_argument("--db", required=True, type=store_target)
    p.add_argument("--format", choices=("jsonl", "csv", "coco"), default="jsonl",
                   help="jsonl: one object a pair (default); csv: one row a pair; coco: one "
                        "COCO-style file per source, each image with its persons' curated depth "
                        "order (docs/FORMATS.md)")
    p.add_argument("--out", required=True, type=Path,
                   help="FILE.jsonl or FILE.csv (written atomically); a FOLDER for coco")
    p.add_argument("--source", help="only this source")
    p.add_argument("--json", action="store_true", help="print a JSON summary")


def _add_review(sub) -> None:
    p = sub.add_parser("review", help="record one review of a pair, or many from a file")
    p.add_argument("--db", required=True, type=store_target)
    p.add_argument("--pair", type=int, help="pair id (see export)")
    p.add_argument("--verdict",
                   help=f"{', '.join(VERDICTS)} (reset = back to the automatic label)")
    p.add_argument("--from", dest="from_file", type=Path, metavar="FILE",
                   help="many reviews in one transaction (all or none are written): JSON lines "
                        "{pair, verdict, reason?, note?, reviewer?}, or a CSV or COCO file as "
                        "export --format csv|coco writes it, whose rows count where they change "
                        "the pair")
    p.add_argument("--reason", help=f"{', '.join(REASONS)}")
    p.add_argument("--note", help="free text")
    p.add_argument("--reviewer", help="who reviews (default: the login name)")
    p.add_argument("--json", action="store_true")


def _add_merge_reviews(sub) -> None:
    p = sub.add_parser("merge-reviews", help="bring the reviews of other stores of the same "
                                             "sources into this one (an offline curator's)")
    p.add_argument("--db", required=True, type=store_target, help="the store to merge into")
    p.add_argument("stores", nargs="+", type=store_target, metavar="STORE",
                   help="stores (files or URLs) whose reviews are brought in; a review already "
                        "here is not added again")
    p.add_argument("--json", action="store_true")


def _add_team(sub) -> None:
    p = sub.add_parser("team", help="the team's settings (consensus rule, blind double review, "
                                    "adjudicators, claim lease), agreement (Cohen's kappa) and "
                                    "each curator's counts and speed")
    p.add_argument("--db", required=True, type=store_target)
    p.add_argument("--consensus", help="latest, majority or adjudicator: how the label of a "
                                       "pair several curators judged is chosen")
    p.add_argument("--double-review", type=float, metavar="SHARE",
                   help="share of pairs (0-1) a second curator reviews blind")
    p.add_argument("--adjudicators", help="comma-separated curators whose verdict stands "
                                          "(consensus adjudicator)")
    p.add_argument("--lease-minutes", type=float,
                   help="how long a claim on the pair in front of a curator holds")
    p.add_argument("--json", action="store_true")


def _add_relink(sub) -> None:
    p = sub.add_parser("relink", help="a source's images moved: point the store at their new folder")
    p.add_argument("--db", required=True, type=store_target)
    p.add_argument("--source", required=True, help="the source's name (see stats)")
    p.add_argument("--images", required=True, type=Path, help="the folder the images are in now")
    p.add_argument("--json", action="store_true")


def _add_stats(sub) -> None:
    p = sub.add_parser("stats", help="counts per source, labels, reviews")
    p.add_argument("--db", required=True, type=store_target)
    p.add_argument("--json", action="store_true")


def _add_synth(sub) -> None:
    p = sub.add_parser("synth", help="generate a synthetic world with known 3D truth")
    p.add_argument("--out", required=True, type=Path, help="folder to write (created)")
    p.add_argument("--images", required=True, type=int, help="number of scenes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--workers", type=int, help="processes (default: all cores)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the world already in --out (a store may refer to its images)")
    p.add_argument("--json", action="store_true")


def _add_noise_report(sub) -> None:
    p = sub.add_parser("noise-report", help="how wrong the perspective labels are, on 3D truth")
    p.add_argument("--db", required=True, type=store_target)
    p.add_argument("--source", help="only this source")
    p.add_argument("--json", action="store_true")


def _add_pretrain(sub) -> None:
    p = sub.add_parser("pretrain", help="WSP pre-training on a store's effective labels")
    p.add_argument("--db", type=store_target, help="the store (needed unless --resume)")
    p.add_argument("--out", required=True, type=Path, help="run folder")
    p.add_argument("--preset", help="paper, cpu-small, smoke or a TOML file (default: paper on a "
                                    "GPU, cpu-small on the CPU)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (repeatable)")
    p.add_argument("--backbone-weights", metavar="imagenet|FILE|none",
                   help="start the ResNet from torchvision's ImageNet weights (the paper's; "
                        "looked for in $TORCH_HOME/hub/checkpoints), a torchvision state dict, "
                        "or none (random)")
    p.add_argument("--progress", choices=("bar", "jsonl", "none"), default="bar")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--json", action="store_true", help="print the final summary as JSON")


def _run_options(p) -> None:
    """What every command that runs a network over data takes: batch, workers, device, how it
    reports its progress, and --json."""
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--progress", choices=("bar", "jsonl", "none"), default="bar",
                   help="jsonl: start and step events on stdout (the Jobs tab reads them)")
    p.add_argument("--json", action="store_true")


def _add_eval_rd(sub) -> None:
    p = sub.add_parser("eval-rd", help="relative-depth evaluation (RD protocols 1 and 2)")
    p.add_argument("--ckpt", required=True, type=Path)
    p.add_argument("--db", type=store_target, help="evaluate every labelled pair of this store "
                                           "(default: the run's held-out pairs)")
    p.add_argument("--manifest", type=Path, help="evaluate this manifest's pairs")
    p.add_argument("--split", default="test", choices=("test", "val", "train", "all"),
                   help="the run's own manifest split to evaluate (default test: images never "
                        "used in training nor to choose best.pt)")
    p.add_argument("--protocol", default="both", choices=("1", "2", "both"))
    p.add_argument("--order-seed", type=int, default=0,
                   help="seed of the random A/B order of each pair (default 0)")
    p.add_argument("--source-order", dest="order_seed", action="store_const", const=None,
                   help="keep each pair's A/B order as the source lists it")
    _run_options(p)


def _add_score(sub) -> None:
    p = sub.add_parser("score", help="write a checkpoint's probability for every pair, or "
                                     "out-of-sample ones from K fold networks (--folds)")
    p.add_argument("--db", required=True, type=store_target)
    p.add_argument("--ckpt", type=Path, help="a WSP checkpoint (trained on this store: each "
                                             "score says whether it is out-of-sample)")
    p.add_argument("--folds", type=int, metavar="K",
                   help="train K networks on image-disjoint folds and score each pair with the "
                        "one that never saw its image (needs --out)")
    p.add_argument("--out", type=Path, help="--folds: a new folder for the K fold runs")
    p.add_argument("--preset", help="--folds: the pre-training preset (default: paper on a GPU, "
                                    "cpu-small on the CPU)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="--folds: override a config value (repeatable)")
    _run_options(p)


def _add_finetune(sub) -> None:
    p = sub.add_parser("finetune", help="3D fine-tuning (PoseNet head) from a WSP checkpoint or none")
    p.add_argument("--data", help="FORMAT:PATH with FORMAT synth, h36m-npz or h36m "
                                  "(needed unless --resume)")
    p.add_argument("--init", help="a WSP pre-training checkpoint, imagenet (the PoseNet baseline, "
                                  "as the paper) or none (random: not the paper's); default: "
                                  "the preset's")
    p.add_argument("--out", required=True, type=Path, help="run folder")
    p.add_argument("--preset", help="paper, cpu-small, smoke or a TOML file (default: paper on a "
                                    "GPU, cpu-small on the CPU)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--protocol", help=f"{', '.join(PROTOCOLS)} (default: the preset's)")
    p.add_argument("--mts-db", type=Path,
                   help="MTS: mix 2D samples from this store's MCPC persons into every batch")
    p.add_argument("--db", type=store_target, help="a store to record the job in")
    p.add_argument("--progress", choices=("bar", "jsonl", "none"), default="bar")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--json", action="store_true")


def _add_eval_3d(sub) -> None:
    p = sub.add_parser("eval-3d", help="MPJPE, PA-MPJPE (similarity and rigid), per-axis and "
                                       "per-action errors; MuPoTS's 3DPCK on multi-person sets "
                                       "(docs/EVALUATION.md)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--ckpt", type=Path, help="a fine-tuned checkpoint to evaluate")
    source.add_argument("--pred", type=Path, metavar="FILE.json",
                        help='any model\'s predictions: {"predictions": [{"image_id", '
                             '"keypoints_cam", "keypoints_img"?}]} in the set\'s joint order')
    p.add_argument("--data", required=True,
                   help="FORMAT:PATH (synth, h36m-npz, h36m, synth-scenes, muco, mupots)")
    p.add_argument("--protocol",
                   help=f"{', '.join(PROTOCOLS)}; custom: the checkpoint's subject lists, all: "
                        "every sample (default subject1, on multi-person sets all)")
    p.add_argument("--action", help="the training action of cross-action")
    p.add_argument("--boxes", type=Path, metavar="FILE.json",
                   help="detected boxes and estimated roots (3DMPPE's bbox_root_*_output.json) "
                        "instead of the ground truth's")
    p.add_argument("--no-flip-test", dest="flip", action="store_false",
                   help="no flip test (it is on by default, as in 3DMPPE's protocol numbers)")
    p.add_argument("--samples", type=Path, metavar="FILE.npz",
                   help="also write each sample's prediction, truth and errors, worst first")
    _run_options(p)


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="3D poses (root-relative and camera-space mm) of the persons "
                                       "in a photo, a folder of photos or a video")
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--ckpt", type=Path, help="a fine-tuned (3D) checkpoint (needs PyTorch)")
    model.add_argument("--onnx", type=Path, metavar="MODEL.onnx",
                       help="a 3D network from export-onnx, run with ONNX Runtime (no PyTorch)")
    p.add_argument("input", type=Path,
                   help="an image (JPEG, PNG, …), a folder of images, or a video (MP4, AVI, …)")
    p.add_argument("--box", action="append", default=[], metavar="X,Y,W,H",
                   help="a person box in pixels (repeatable; every frame; default: the whole "
                        "image)")
    p.add_argument("--boxes", type=Path, metavar="FILE.json",
                   help="boxes per image or frame: 3DMPPE's bbox_root_*_output.json (with roots) "
                        "or a COCO-style file (docs/APP.md says how frames are matched)")
    p.add_argument("--detect", action="store_true",
                   help="find the persons with a detector (OpenCV's HOG people detector unless "
                        "--detector)")
    p.add_argument("--detector", type=Path, metavar="FILE.onnx",
                   help="an ONNX person detector (implies --detect; layouts in docs/APP.md)")
    p.add_argument("--detector-layout", default="auto", choices=("auto", "xyxy", "yolov8", "yolov5"),
                   help="the ONNX detector's output layout (default: from its shape)")
    p.add_argument("--score-min", type=float,
                   help="the detector's score threshold (default: 0.3 for an ONNX detector's "
                        "probabilities, 0.8 for HOG's SVM margins)")
    p.add_argument("--focal", type=float, metavar="PX",
                   help="the focal length in pixels (default: EXIF, else the image's longer side)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path,
                   help="write the JSON (an image) or JSON lines, one per frame (a folder or "
                        "video; without --out they go to stdout)")
    p.add_argument("--csv", type=Path, metavar="FILE.csv",
                   help="also write one row per person and frame")
    p.add_argument("--json", action="store_true")


def _add_export_onnx(sub) -> None:
    p = sub.add_parser("export-onnx", help="a trained checkpoint (3D or WSP) as an ONNX model with "
                                           "a dynamic batch, checked against torch")
    p.add_argument("--ckpt", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, metavar="MODEL.onnx")
    p.add_argument("--json", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wsp-core", description="WSP Studio: weakly-supervised 3D pose pre-training from "
        "perspective knowledge (headless).")
    parser.add_argument("--version", action="version", version=f"wsp-core {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_import, _add_export, _add_review, _add_merge_reviews, _add_team, _add_relink,
                _add_stats, _add_synth, _add_noise_report,
                _add_pretrain, _add_eval_rd, _add_score, _add_finetune, _add_eval_3d,
                _add_predict, _add_export_onnx):
        add(sub)
    return parser
