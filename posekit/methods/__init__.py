"""AQA methods of the literature on posekit's data, trainer, metrics and explanations.

``method:`` in an AQA config picks one (default ``hpmcore``, :mod:`posekit.models.hpmcore`):

* ``tsa`` - :mod:`posekit.methods.tsa` (FineDiving's temporal segmentation attention)
* ``core`` - :mod:`posekit.methods.core` (contrastive regression, group-aware tree)
* ``sapnet`` - :mod:`posekit.methods.sapnet` (semi-supervised sub-action parsing)
* ``progressive`` - :mod:`posekit.methods.progressive` (progressive sub-action regression)
* ``decoupling`` - :mod:`posekit.methods.decoupling` (quality-score decoupling)
"""

from __future__ import annotations

from typing import Any

from torch import nn

from posekit.methods.base import AQAMethod, MethodConfig
from posekit.methods.core import CoRe
from posekit.methods.decoupling import ScoreDecoupling
from posekit.methods.progressive import Progressive
from posekit.methods.sapnet import SAPNet
from posekit.methods.tsa import TSA
from posekit.models.hpmcore import HPMCoRe, HPMCoReConfig

METHODS: dict[str, Any] = {
    "hpmcore": HPMCoRe,
    "tsa": TSA,
    "core": CoRe,
    "sapnet": SAPNet,
    "progressive": Progressive,
    "decoupling": ScoreDecoupling,
}


def method_class(name: str, where: str | None = None) -> Any:
    from posekit.errors import ConfigError

    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; expected one of {sorted(METHODS)}", where, "method")
    return METHODS[name]


def method_config(name: str, model: dict[str, Any], where: str | None = None) -> Any:
    """The validated ``model:`` section of method ``name``."""
    cls = method_class(name, where)
    conf_cls = HPMCoReConfig if cls is HPMCoRe else cls.config_class
    return conf_cls.from_dict(model, where)


def build_method(name: str, model: dict[str, Any], where: str | None = None) -> nn.Module:
    return method_class(name, where)(method_config(name, model, where))


__all__ = ["METHODS", "AQAMethod", "MethodConfig", "build_method", "method_class", "method_config"]
