"""AQA training configs (YAML).

A config names its ``method`` (default ``hpmcore``; :mod:`posekit.methods`) and has four
sections - ``data``, ``model`` (the method's config, e.g. :class:`HPMCoReConfig`), ``loss``
(HP-MCoRe's weights; the others keep theirs in ``model``) and ``train`` - and may start
from others with ``_base_: [relative/path.yaml, ...]`` (merged in order, then this file on
top, dicts merged key by key, like mmengine's Python configs; a section with
``_delete_: true`` replaces the base's section instead, e.g. another method's ``model``).
``posekit train CONFIG --set train.epochs=3 model.dim=32`` overrides single values (parsed
as YAML scalars). Unknown sections or keys are errors that name the file and the key.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import yaml

from posekit.errors import ConfigError

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "method": "hpmcore",  # hpmcore | tsa | core | sapnet | progressive | decoupling (posekit.methods)
    "work_dir": None,
    "data": {
        "kind": "synthetic",  # a name of posekit.training.datasets.DATASETS (synthetic, finediving, mtl_aqa, ...)
        "root": None,
        "num_frames": 96,  # frames per clip on the model's time grid (the equations' T)
        "K": 3,
        "layout": "mpii16",  # a graphs layout name or a layout YAML path; the clips must be in it
        "stage_names": None,  # names of the K stages (default: the dataset's, e.g. take-off / flight / entry)
        "center": "frame",  # skeleton normalisation: frame | sequence (root) | body | body_oriented (spine up)
        "motion": False,  # add the joint motion stream (dx, dy between frames) as 2 more channels
        "pose_dir": "pose",
        "dynamic_dir": "features/dynamic",  # null: no dynamic features
        "static_dir": "features/static",
        "val_fraction": 0.15,
        "use_dn": True,  # exemplars of the same dive number
        "use_difficulty": False,  # regress execution = score / DD, multiply back
        "synthetic": {
            "n_train": 240,
            "n_test": 80,
            "num_frames": None,  # frames of a generated dive before resampling (default data.num_frames)
            "feature_dim": 64,
            "num_clips": 9,
            "seed": 0,
            "stage_fractions": None,
        },  # [[take-off lo, hi], [entry lo, hi]] share of the clip
        "max_items": None,  # cap per split, for smoke runs
        "test_fraction": 0.2,  # generic / speed_climbing: held-out share (by group)
        "folds": None,  # k-fold CV by group instead of the test split (test = fold `fold`); posekit cv runs all
        "group_by": None,  # clips that stay together: clip | group | video | a labels.csv column (default: the kind's)
        "fold": 0,
        # training augmentation: skeleton flip / scale / rotate, and modality dropout (ModDrop):
        # the probability that a training clip's RGB features (drop_rgb) or skeleton (drop_pose) are zeroed
        "augment": {"flip": 0.0, "scale": 0.0, "rotate": 0.0, "drop_rgb": 0.0, "drop_pose": 0.0},
        "labelled_fraction": 1.0,  # < 1: the rest of the training clips lose their scores (semi-supervised)
        "exemplar_group": "group",  # match exemplars on the group (dive number) or the difficulty
    },
    "model": {},
    "loss": {"aqa": 1.0, "ce": 1.0, "cont": 1.0, "cont_kind": "stage", "tau": 0.5},
    "train": {
        "epochs": 20,
        "batch_size": 8,
        "lr": 1e-3,
        "weight_decay": 0.0,
        "optimizer": "adam",  # adam | adamw | sgd
        "scheduler": "cosine",  # cosine | step | none
        "step_size": 10,
        "gamma": 0.5,
        "exemplars": 10,  # M for multi-exemplar voting at test time; all: every training clip
        "val_exemplars": 5,
        "eval_every": 1,
        # best (validation SRCC) | last (the final epoch) | inner_cv (the epoch count that is best
        # over train.inner_folds grouped folds of the training clips, then one run on all of them)
        "select": "best",
        "inner_folds": 3,
        # self-supervised masked motion prediction of the skeletal encoder on the run's own
        # training skeletons before scored training (posekit.training.pretrain); 0: off
        "pretrain_epochs": 0,
        "pretrain_mask": 0.5,  # share of 4-frame chunks hidden
        "init_from": None,  # a `posekit pretrain` encoder (.pth) to start the skeletal encoder from
        "num_threads": None,
        "progress": True,
    },
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, dicts key by key; ``_delete_: true`` in a dict of ``over``
    replaces the base's dict (mmengine's rule)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict):
            fresh = v.get("_delete_") is True or not isinstance(out.get(k), dict)
            out[k] = _merge({} if fresh else out[k], {a: b for a, b in v.items() if a != "_delete_"})
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"_base_ cycle: {' -> '.join(map(str, (*seen, path)))}", path, "_base_")
    if not path.exists():
        raise ConfigError("config file not found", path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", path) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping at the top level, got {type(raw).__name__}", path)
    bases = raw.pop("_base_", [])
    bases = [bases] if isinstance(bases, str) else bases
    merged: dict[str, Any] = {}
    for b in bases:
        merged = _merge(merged, _read(path.parent / b, (*seen, path)))
    return _merge(merged, raw)


def _check_keys(cfg: dict[str, Any], ref: dict[str, Any], where: Path | None, prefix: str = "") -> None:
    for k, v in cfg.items():
        name = f"{prefix}{k}"
        if k not in ref:
            if prefix == "model.":
                continue  # checked by HPMCoReConfig.from_dict
            raise ConfigError(f"unknown option '{name}'; expected one of {sorted(ref)}", where, name)
        if isinstance(ref[k], dict) and ref[k] and isinstance(v, dict):
            _check_keys(v, ref[k], where, f"{name}.")


#: options renamed for one name per idea across CLI, API and config: old path -> new path.
#: The old spelling still loads (configs and work dirs written before the rename) with a
#: FutureWarning naming the file; giving both is an error.
RENAMED: dict[str, str] = {
    "data.T": "data.num_frames",
    "data.synthetic.T": "data.synthetic.num_frames",
}


def migrate_renamed(user: dict[str, Any], where: Path | None) -> None:
    """Move every option of :data:`RENAMED` from its old to its new path, in place."""
    for old, new in RENAMED.items():
        *parents, key = old.split(".")
        node: Any = user
        for k in parents:
            node = node.get(k) if isinstance(node, dict) else None
        if not isinstance(node, dict) or key not in node:
            continue
        new_key = new.rsplit(".", 1)[1]
        if new_key in node:
            raise ConfigError(f"both '{old}' and its new name '{new}' are set; keep '{new}'", where, old)
        node[new_key] = node.pop(key)
        warnings.warn(f"{where or '--set'}: '{old}' is now '{new}'; the old name will be removed", FutureWarning, 3)


def parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. train.epochs=3)", field="--set")
    key, value = item.split("=", 1)
    return key.strip().split("."), yaml.safe_load(value)


CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("data", "center"): ("frame", "sequence", "body", "body_oriented"),
    ("data", "exemplar_group"): ("group", "difficulty"),
    ("train", "select"): ("best", "last", "inner_cv"),
}


def _int(lo: int | None = None) -> tuple[Any, str]:
    ok = lambda v: isinstance(v, int) and not isinstance(v, bool) and (lo is None or v >= lo)  # noqa: E731
    return ok, "an integer" + (f" >= {lo}" if lo is not None else "")


def _int_or_all() -> tuple[Any, str]:
    ok, what = _int(1)
    return (lambda v: v == "all" or ok(v)), f"{what} or 'all'"


def _num(lo: float, hi: float | None = None, lo_open: bool = False, hi_open: bool = False) -> tuple[Any, str]:
    def ok(v: Any) -> bool:
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v != v or v in (float("inf"), float("-inf")):
            return False
        return (v > lo if lo_open else v >= lo) and (hi is None or (v < hi if hi_open else v <= hi))

    lo_s, hi_s = ("(" if lo_open else "[") + f"{lo:g}", (f"{hi:g}" + (")" if hi_open else "]")) if hi else "inf)"
    return ok, f"a finite number in {lo_s}, {hi_s}"


def _optional(rule: tuple[Any, str]) -> tuple[Any, str]:
    return (lambda v: v is None or rule[0](v)), f"null or {rule[1]}"


_BOOL = (lambda v: isinstance(v, bool), "true or false")
#: the type and range of every scalar option (choice fields are in CHOICES; model options are
#: checked by the method's config dataclass)
RULES: dict[str, tuple[Any, str]] = {
    "seed": _int(0),
    "data.num_frames": _int(2),
    "data.K": _int(1),
    "data.val_fraction": _num(0, 1, hi_open=True),
    "data.test_fraction": _num(0, 1, lo_open=True, hi_open=True),
    "data.labelled_fraction": _num(0, 1, lo_open=True),
    "data.folds": _optional(_int(2)),
    "data.fold": _int(0),
    "data.group_by": _optional((lambda v: isinstance(v, str) and bool(v), "a name")),
    "data.max_items": _optional(_int(1)),
    "data.use_dn": _BOOL,
    "data.motion": _BOOL,
    "data.use_difficulty": _BOOL,
    "train.epochs": _int(1),
    "train.batch_size": _int(1),
    "train.lr": _num(0, lo_open=True),
    "train.weight_decay": _num(0),
    "train.step_size": _int(1),
    "train.gamma": _num(0, 1, lo_open=True),
    "train.exemplars": _int_or_all(),
    "train.val_exemplars": _int_or_all(),
    "train.eval_every": _int(1),
    "train.inner_folds": _int(2),
    "train.pretrain_epochs": _int(0),
    "train.pretrain_mask": _num(0, 1, lo_open=True, hi_open=True),
    "train.init_from": _optional((lambda v: isinstance(v, str) and bool(v), "a path to a posekit pretrain .pth")),
    "train.num_threads": _optional(_int(1)),
    "train.progress": _BOOL,
    "loss.aqa": _num(0),
    "loss.ce": _num(0),
    "loss.cont": _num(0),
    "loss.tau": _num(0, lo_open=True),
}
CHOICES_EXTRA: dict[str, tuple[str, ...]] = {
    "train.optimizer": ("adam", "adamw", "sgd"),
    "train.scheduler": ("cosine", "step", "none"),
}


def validate_types(cfg: dict[str, Any], src: Path | None) -> None:
    """Every scalar option has its type and range: an error names the file, the field, the
    value and what is allowed."""
    for key, (ok, what) in RULES.items():
        node: Any = cfg
        for k in key.split("."):
            node = node[k]
        if not ok(node):
            raise ConfigError(f"{key} must be {what}, got {node!r}", src, key)
    for key, allowed in CHOICES_EXTRA.items():
        section, name = key.split(".")
        if cfg[section][name] not in allowed:
            raise ConfigError(f"{key} must be one of {list(allowed)}, got {cfg[section][name]!r}", src, key)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> dict[str, Any]:
    """Defaults <- ``_base_`` files <- ``path`` <- ``overrides``; validated."""
    src = Path(path) if path is not None else None
    user = _read(src) if src is not None else {}
    for item in overrides or []:
        keys, value = parse_override(item)
        node = user
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: '{k}' is not a section", src, item)
        node[keys[-1]] = value
    migrate_renamed(user, src)
    _check_keys(user, DEFAULTS, src)
    if src is not None and not user:
        raise ConfigError("empty config file (expected at least a data: section or a _base_)", src)
    cfg = _merge(DEFAULTS, user)
    cfg["_source"] = str(src) if src else None
    validate_types(cfg, src)
    cfg["data"]["layout"] = _resolve_layout(cfg["data"]["layout"], src)
    for (section, name), allowed in CHOICES.items():
        if cfg[section][name] not in allowed:
            raise ConfigError(
                f"{section}.{name} must be one of {list(allowed)}, got {cfg[section][name]!r}", src, f"{section}.{name}"
            )
    from posekit.training.datasets import dataset_kind, stage_names

    dataset_kind(cfg["data"]["kind"], str(src) if src else None)
    stage_names(cfg)  # data.stage_names: K names
    aug = cfg["data"]["augment"] or {}
    for k, v in aug.items():
        if not isinstance(v, (int, float)) or v < 0 or (k.startswith("drop_") and v > 1):
            raise ConfigError(f"data.augment.{k} must be a number >= 0 (a probability for drop_*), got {v!r}", src, k)
    if float(aug.get("drop_rgb", 0)) + float(aug.get("drop_pose", 0)) > 1:
        raise ConfigError("data.augment.drop_rgb + drop_pose must be <= 1 (one modality at most is dropped)", src)
    from posekit.methods import method_config

    method_config(cfg["method"], model_section(cfg), str(src) if src else None)
    return cfg


def _resolve_layout(layout: str, src: Path | None) -> str:
    """``data.layout`` as a registered name: a YAML path (as given, else beside the config)
    is registered beside the built-in layouts."""
    if not str(layout).endswith((".yaml", ".yml")):
        return layout
    from graphs.errors import GraphsError
    from graphs.layout import register_layout

    path = Path(layout)
    if not path.is_absolute() and not path.exists() and src is not None:
        path = Path(src).parent / path
    try:
        return register_layout(path).name
    except GraphsError as exc:
        raise ConfigError(str(exc), src, "data.layout") from None


def model_section(cfg: dict[str, Any]) -> dict[str, Any]:
    """The method's options: ``model:`` with ``T``, ``K`` and the layout taken from ``data``
    unless set, and the ``loss:`` weights under ``loss``."""
    m = dict(cfg.get("model") or {})
    if "loss" in m:
        raise ConfigError("loss weights go in the loss: section, not model.loss", cfg.get("_source"), "model.loss")
    m["loss"] = dict(cfg["loss"])
    m.setdefault("T", cfg["data"]["num_frames"])
    m.setdefault("K", cfg["data"]["K"])
    m.setdefault("layout", cfg["data"]["layout"])
    return m


def dump_config(cfg: dict[str, Any]) -> str:
    return yaml.safe_dump({k: v for k, v in cfg.items() if not k.startswith("_")}, sort_keys=False)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (private ``_`` keys left out)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if not str(k).startswith("_"):
            out.update(flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def config_changes(old_text: str, cfg: dict[str, Any]) -> list[str]:
    """The options (``section.key``) in which ``cfg`` differs from a run's stored
    ``config.yaml``. An option the stored config lacks because it was added to posekit later
    does not count when it has its default value (defaults keep the earlier behaviour), so
    finished runs and folds stay reusable across upgrades."""
    old = flatten(yaml.safe_load(old_text) or {})
    new = flatten(yaml.safe_load(dump_config(cfg)) or {})
    default = flatten(DEFAULTS)
    return sorted(
        k
        for k in set(old) | set(new)
        if old.get(k) != new.get(k) and not (k not in old and k in default and new[k] == default[k])
    )
