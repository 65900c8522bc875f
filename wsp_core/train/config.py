"""One config dataclass per kind of training, TOML presets shipped in the package
(``wsp_core/presets/<kind>/*.toml``, read through importlib.resources), and
``--set key=value`` overrides. The resolved config is written next to a run's outputs."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from importlib import resources
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import InputError

#: The presets ship inside the package, so an installed wheel finds them as a checkout does.
PRESETS_DIR = Path(str(resources.files("wsp_core") / "presets"))


@dataclass
class RunConfig:
    """What every kind of training shares: optimisation, augmentation, devices, logging.
    Defaults are the paper's pre-training ones; each kind sets its own in its class."""

    backbone: str = "resnet50"             # resnet18 | resnet34 | resnet50
    input_size: int = 256
    head_channels: int = 256
    val_fraction: float = 0.1              # held out of training to choose best.pt (by hash)
    test_fraction: float = 0.1             # held out for testing, never to choose best.pt
                                           # (pre-training; fine-tuning's protocol all)
    epochs: int = 50
    batch_size: int = 64                   # global batch (split across processes)
    lr: float = 1e-3
    lr_steps: list[int] = field(default_factory=lambda: [30, 40])
    lr_factor: float = 0.1
    weight_decay: float = 0.0
    workers: int = 4
    augment: bool = True
    aug_scale: float = 0.25
    aug_rotation: float = 30.0
    aug_flip: bool = True
    aug_colour: float = 0.2
    bn_frozen: bool = False                # BN layers in eval mode (small batches, DDP checks)
    seed: int = 0
    device: str = "auto"                   # auto | cpu | cuda
    bf16: bool = True                      # bf16 autocast on CUDA and bf16-capable CPUs
    channels_last: bool = True             # where bf16 runs (train/precision.py)
    compile: bool = False
    cuda_graph: bool = True                # the training step replayed as one CUDA graph
                                           # (one process on CUDA; else eager; ADR 0028)
    log_every: int = 10
    eval_every: int = 1


@dataclass
class PretrainConfig(RunConfig):
    """WSP pre-training. Defaults are the paper's (the ``paper`` preset)."""

    backbone_weights: str | None = "imagenet"  # imagenet | a torchvision state dict | none (random)
    rd_hidden: int = 256
    sampled_joints: int = 8                # N < J random joints per pair
    alpha: float = 50.0                    # L = L_hm + alpha * L_rd
    sigma: float = 2.0                     # heatmap Gaussian, in heatmap pixels
    detach_masks: bool = False             # eq. 5's masks get no gradient from L_rd
    hm_persons: str = "all"                # all: targets show every annotated person in I_AB | pair
    epoch_pairs: str = "image"             # image: one random pair per image per epoch | all
    max_pairs: int = 0                     # 0 = all pairs of the manifest
    max_size_conflict: float = 1.0         # automatic labels whose size cue conflicts more are
                                           # left out of training (1 = every pair, the paper's;
                                           # reviewed pairs always train; ADR 0029)
    folds: int = 0                         # K >= 2: hold out fold `fold` of K image-disjoint folds
    fold: int = 0                          # as test (instead of test_fraction): score --folds
    decode_on_device: bool = False         # training crops decoded and warped on the device
                                           # (train/device_crops.py; slower on an H200: ADR 0026)


@dataclass
class FinetuneConfig(RunConfig):
    """3D fine-tuning (PoseNet head, integral regression). Defaults are the paper's."""

    init: str = "imagenet"                 # a WSP checkpoint | imagenet (PoseNet) | none (random)
    init_deconv: bool = False              # also start the deconvolutions from the WSP checkpoint
                                           # (the paper starts only the backbone; off)
    depth_bins: int = 64
    aug_occlusion: bool = True             # 3DMPPE's synthetic occlusion (probability 0.5)
    protocol: str = "subject1"             # subject1 | subject2 | cross-action | all | custom
    action: str | None = None              # the training action of cross-action
    train_subjects: str = ""               # custom: comma lists; empty actions = all actions
    train_actions: str = ""
    test_subjects: str = ""
    epochs: int = 25
    batch_size: int = 32
    lr_steps: list[int] = field(default_factory=lambda: [17, 21])
    max_samples: int = 0                   # 0 = all
    mts_db: str | None = None              # MTS: a store whose MCPC persons give 2D half-batches
    train_frame_step: int = 5              # Human3.6M JSON: every 5th frame trains (1 = all)
    test_frame_step: int = 64              # ... and every 64th frame tests (1 = all)


#: What an epoch of pre-training is: the paper's (§4.2.1: every image once, two of its persons
#: drawn at random) or every pair of every image once.
EPOCH_PAIRS = ("image", "all")
#: Whose joints the pre-training heatmap targets show: every annotated person inside the crop
#: (the paper is silent; docs/TRAINING.md) or only the pair's two.
HM_PERSONS = ("all", "pair")
#: Words that ask for a randomly initialised backbone.
NO_WEIGHTS = ("none", "random", "")


def weights_setting(value: str | None) -> str | None:
    """A ``backbone_weights``/``init`` value with "none" and "random" read as None."""
    return None if value is None or value.strip().lower() in NO_WEIGHTS else value


def validate(config) -> None:
    """Refuse settings that cannot work, before anything is written: every field's type (a
    TOML preset, a checkpoint's config or code may give any), then the ranges."""
    problems = _type_problems(config)
    if problems:  # ranges of values of the wrong type would only add noise
        raise InputError("config", "; ".join(problems))
    problems = _range_problems(config)
    if problems:
        raise InputError("config", "; ".join(problems))


#: Field annotations (as the dataclasses hold them: text) -> the check of a value and its name.
_TYPE_CHECKS: dict[str, tuple[Any, str]] = {
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "float": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    "str": (lambda v: isinstance(v, str), "text"),
    "str | None": (lambda v: v is None or isinstance(v, str), "text"),
    "list[int]": (lambda v: isinstance(v, list) and all(
        isinstance(x, int) and not isinstance(x, bool) for x in v), "a list of whole numbers"),
}


def _type_problems(config) -> list[str]:
    problems = []
    for f in fields(config):
        check = _TYPE_CHECKS.get(str(f.type))
        value = getattr(config, f.name)
        if check is not None and not check[0](value):
            problems.append(f"{f.name} must be {check[1]}, not {value!r}")
        elif str(f.type) == "float" and isinstance(value, int):
            setattr(config, f.name, float(value))
    return problems


def _range_problems(config) -> list[str]:
    from ..models.backbone import BACKBONES
    from .data import PRETRAIN_JOINTS

    problems = []
    if isinstance(config, FinetuneConfig):
        from ..evaluate.protocols import PROTOCOLS

        if config.protocol not in (*PROTOCOLS, "all", "custom"):
            problems.append(f"protocol {config.protocol!r} is not one of "
                            f"{', '.join((*PROTOCOLS, 'all', 'custom'))}")
        if config.protocol == "custom" and not (config.train_subjects and config.test_subjects):
            problems.append("protocol custom needs train_subjects and test_subjects")
        if config.depth_bins < 2:
            problems.append("depth_bins must be at least 2")
        if config.max_samples < 0:
            problems.append("max_samples must be 0 (all) or positive")
    else:
        if not 0 < config.sampled_joints < len(PRETRAIN_JOINTS):
            problems.append(f"sampled_joints must be in 1..{len(PRETRAIN_JOINTS) - 1}")
        if not (math.isfinite(config.alpha) and config.alpha >= 0):
            problems.append(f"alpha must be a finite number >= 0, not {config.alpha}")
        if not (math.isfinite(config.sigma) and config.sigma > 0):
            problems.append(f"sigma must be a finite positive number, not {config.sigma}")
        if config.rd_hidden < 1 or config.max_pairs < 0:
            problems.append("rd_hidden must be positive and max_pairs 0 (all) or positive")
        if not (math.isfinite(config.max_size_conflict) and 0 <= config.max_size_conflict <= 1):
            problems.append(f"max_size_conflict must be in [0, 1] (1 keeps every pair), not "
                            f"{config.max_size_conflict}")
        if config.hm_persons not in HM_PERSONS:
            problems.append(f"hm_persons {config.hm_persons!r} is not one of "
                            f"{', '.join(HM_PERSONS)}")
        if config.epoch_pairs not in EPOCH_PAIRS:
            problems.append(f"epoch_pairs {config.epoch_pairs!r} is not one of "
                            f"{', '.join(EPOCH_PAIRS)}")
    if config.backbone not in BACKBONES:
        problems.append(f"unknown backbone {config.backbone!r}; one of {', '.join(BACKBONES)}")
    if config.input_size < 32 or config.input_size % 32:
        problems.append(f"input_size {config.input_size} is not a multiple of 32")
    if config.epochs < 1 or config.batch_size < 1 or config.head_channels < 1:
        problems.append("epochs, batch_size and head_channels must be positive")
    if not (math.isfinite(config.lr) and config.lr > 0):
        problems.append(f"lr must be a finite positive number, not {config.lr}")
    if not (math.isfinite(config.lr_factor) and config.lr_factor > 0):
        problems.append(f"lr_factor must be a finite positive number, not {config.lr_factor}")
    if any(step < 0 for step in config.lr_steps):
        problems.append(f"lr_steps {config.lr_steps} must be epochs (>= 0)")
    if not (math.isfinite(config.weight_decay) and config.weight_decay >= 0):
        problems.append(f"weight_decay must be a finite number >= 0, not {config.weight_decay}")
    for name in ("aug_scale", "aug_rotation", "aug_colour"):
        value = getattr(config, name)
        if not (math.isfinite(value) and value >= 0):
            problems.append(f"{name} must be a finite number >= 0, not {value}")
    if not (math.isfinite(config.val_fraction) and 0 <= config.val_fraction < 1):
        problems.append("val_fraction must be in [0, 1)")
    if not (math.isfinite(config.test_fraction) and 0 <= config.test_fraction < 1
            and config.val_fraction + config.test_fraction < 1):
        problems.append("test_fraction must be in [0, 1) and leave training images")
    if isinstance(config, PretrainConfig) and config.folds and not (
            config.folds >= 2 and 0 <= config.fold < config.folds):
        problems.append(f"fold {config.fold} of folds {config.folds}: folds is 0 (none) or at "
                        "least 2, and fold one of 0 … folds − 1")
    if config.log_every < 1 or config.eval_every < 1:
        problems.append("log_every and eval_every must be at least 1 (steps, epochs)")
    if config.workers < 0 or config.seed < 0:
        problems.append("workers and seed must be 0 or positive")
    if config.device not in ("auto", "cpu", "cuda"):
        problems.append(f"device {config.device!r} is not auto, cpu or cuda")
    return problems


def coerce(value: str, default: Any, name: str) -> Any:
    """Parse a ``--set`` value to the type of the field's default."""
    if isinstance(default, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name} takes true or false, not {value!r}")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, list):
        try:
            return [int(v) for v in value.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"{name} takes whole numbers separated by commas") from None
    if default is None and value.lower() in ("none", "null", ""):
        return None
    return value


def load_config(cls, preset: str | None, overrides: list[str] | None = None,
                kind: str = "pretrain"):
    """A config from a preset (a name in wsp_core/presets/<kind>/ or a TOML path) and overrides."""
    values: dict[str, Any] = {}
    if preset:
        path = Path(preset) if preset.endswith(".toml") else PRESETS_DIR / kind / f"{preset}.toml"
        if not path.is_file():
            known = sorted(p.stem for p in (PRESETS_DIR / kind).glob("*.toml"))
            raise InputError(path, f"no such preset; known presets: {', '.join(known)}")
        try:
            values = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise InputError(path, f"malformed TOML: {e}") from None
    names = {f.name: f for f in fields(cls)}
    unknown = set(values) - set(names)
    if unknown:
        raise InputError(preset or "preset", f"unknown keys {sorted(unknown)}")
    config = cls(**values)
    if values:  # the preset's own types, before an override could hide them
        problems = _type_problems(config)
        if problems:
            raise InputError(preset, "; ".join(problems))
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or key not in names:
            raise InputError("--set", f"{item!r}: expected key=value with key one of "
                                      f"{', '.join(sorted(names))}")
        try:
            setattr(config, key, coerce(value, getattr(config, key), key))
        except ValueError as e:
            raise InputError("--set", f"{item!r}: {e}") from None
    if isinstance(config, PretrainConfig):
        config.backbone_weights = weights_setting(config.backbone_weights)
    else:
        config.init = weights_setting(config.init) or "none"
    validate(config)
    return config


def as_dict(config) -> dict[str, Any]:
    return dataclasses.asdict(config)
