"""AQA training checkpoints: written atomically, loaded weights-only (no pickled code runs),
rebuilt into the model they describe, and checked against the config that evaluates them.

A checkpoint is a dict of state dicts and plain values: ``model``, ``method``,
``model_config`` (the method's typed options), and ``layout_spec`` for a layout that is not
built in (so evaluation and explanation need no registration step).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from posekit.errors import ConfigError
from posekit.io import atomic_write
from posekit.models.base import AQAMethod


def save_checkpoint(path: Path, obj: dict[str, Any]) -> Path:
    """Write a checkpoint atomically; a model on a layout that is not built in carries its
    spec (``layout_spec``), so evaluation and explanation need no registration step."""
    from graphs.layout import get_layout, is_builtin

    layout = (obj.get("model_config") or {}).get("layout")
    if layout and not is_builtin(layout):
        obj = {**obj, "layout_spec": get_layout(layout).to_dict()}
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a posekit training checkpoint (state dicts and plain values: ``weights_only``)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("checkpoint not found", path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        raise ConfigError(f"not a posekit checkpoint ({type(exc).__name__}: {exc})", path) from None


def model_from_checkpoint(ckpt: dict[str, Any]) -> AQAMethod:
    """Rebuild the model a checkpoint describes (``method`` and ``model_config``) and load it."""
    from posekit.methods import build_method

    if "model" not in ckpt or "model_config" not in ckpt:
        raise ConfigError(f"not a posekit model checkpoint (keys {sorted(ckpt)[:6]})", field="model")
    if ckpt.get("layout_spec"):
        from graphs.layout import register_layout

        register_layout(ckpt["layout_spec"])
    model = build_method(ckpt.get("method", "hpmcore"), ckpt["model_config"])
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        raise ConfigError(
            f"the checkpoint does not fit the model it describes ({str(exc).splitlines()[1].strip()}); "
            "was it written by another posekit version?",
            field="model",
        ) from None
    return model


def check_checkpoint_matches(cfg: dict[str, Any], ckpt: dict[str, Any], checkpoint: str | Path) -> None:
    """The config used to evaluate or explain a checkpoint must describe the model it holds:
    the same method, frame count, number of stages and layout (the fields that differ are named)."""
    from posekit.training.config import model_section

    mc, ms = ckpt.get("model_config") or {}, model_section(cfg)
    pairs = {
        "method": (cfg.get("method"), ckpt.get("method", "hpmcore")),
        "data.num_frames": (ms.get("T"), mc.get("T")),
        "data.K": (ms.get("K"), mc.get("K")),
        "data.layout": (ms.get("layout"), mc.get("layout")),
    }
    diff = [f"{k}: config {a!r}, checkpoint {b!r}" for k, (a, b) in pairs.items() if b is not None and a != b]
    if diff:
        raise ConfigError(
            f"the config does not describe this checkpoint ({'; '.join(diff)}); use the training config "
            f"(saved as config.yaml next to {Path(checkpoint).name}) or --set the fields",
            cfg.get("_source"),
            diff[0].split(":")[0],
        )
