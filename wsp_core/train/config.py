"""One config dataclass per kind of training, TOML presets in ``resources/presets``, and
``--set key=value`` overrides. The resolved config is written next to a run's outputs."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import InputError

PRESETS_DIR = Path(__file__).resolve().parents[2] / "resources" / "presets"


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
    bf16: bool = True                      # autocast on CUDA
    channels_last: bool = True             # on CUDA
    compile: bool = False
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
    epoch_pairs: str = "image"             # image: one random pair per image per epoch | all
    max_pairs: int = 0                     # 0 = all pairs of the manifest


@dataclass
class FinetuneConfig(RunConfig):
    """3D fine-tuning (PoseNet head, integral regression). Defaults are the paper's."""

    init: str = "imagenet"                 # a WSP checkpoint | imagenet (PoseNet) | none (random)
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
#: Words that ask for a randomly initialised backbone.
NO_WEIGHTS = ("none", "random", "")


def weights_setting(value: str | None) -> str | None:
    """A ``backbone_weights``/``init`` value with "none" and "random" read as None."""
    return None if value is None or value.strip().lower() in NO_WEIGHTS else value


def validate(config) -> None:
    """Refuse settings that cannot work, before anything is written."""
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
    else:
        if not 0 < config.sampled_joints < len(PRETRAIN_JOINTS):
            problems.append(f"sampled_joints must be in 1..{len(PRETRAIN_JOINTS) - 1}")
        if config.epoch_pairs not in EPOCH_PAIRS:
            problems.append(f"epoch_pairs {config.epoch_pairs!r} is not one of "
                            f"{', '.join(EPOCH_PAIRS)}")
    if config.backbone not in BACKBONES:
        problems.append(f"unknown backbone {config.backbone!r}; one of {', '.join(BACKBONES)}")
    if config.input_size < 32 or config.input_size % 32:
        problems.append(f"input_size {config.input_size} is not a multiple of 32")
    if config.epochs < 1 or config.batch_size < 1 or config.lr <= 0:
        problems.append("epochs, batch_size and lr must be positive")
    if not 0 <= config.val_fraction < 1:
        problems.append("val_fraction must be in [0, 1)")
    if not (0 <= config.test_fraction < 1 and config.val_fraction + config.test_fraction < 1):
        problems.append("test_fraction must be in [0, 1) and leave training images")
    if config.device not in ("auto", "cpu", "cuda"):
        problems.append(f"device {config.device!r} is not auto, cpu or cuda")
    if problems:
        raise InputError("config", "; ".join(problems))


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
        return [int(v) for v in value.split(",") if v.strip()]
    if default is None and value.lower() in ("none", "null", ""):
        return None
    return value


def load_config(cls, preset: str | None, overrides: list[str] | None = None,
                kind: str = "pretrain"):
    """A config from a preset (a name in resources/presets/<kind>/ or a TOML path) and overrides."""
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
