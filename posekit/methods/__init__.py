"""AQA methods of the literature on posekit's data, trainer, metrics and explanations.

``method:`` in an AQA config picks one (default ``hpmcore``, :mod:`posekit.models.hpmcore`):

* ``tsa`` - :mod:`posekit.methods.tsa` (FineDiving's temporal segmentation attention)
* ``core`` - :mod:`posekit.methods.core` (contrastive regression, group-aware tree)
* ``sapnet`` - :mod:`posekit.methods.sapnet` (semi-supervised sub-action parsing)
* ``progressive`` - :mod:`posekit.methods.progressive` (progressive sub-action regression)
* ``decoupling`` - :mod:`posekit.methods.decoupling` (quality-score decoupling)
* ``dct_ridge``, ``dct_svr`` - :mod:`posekit.methods.classical` (Pose + DCT + ridge / SVR,
  fitted in closed form: the classical baselines on the same trainer, metrics and ``posekit cv``)
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from posekit.methods.base import MethodConfig
from posekit.methods.classical import DCTSVR, DCTRidge
from posekit.methods.core import CoRe
from posekit.methods.decoupling import ScoreDecoupling
from posekit.methods.progressive import Progressive
from posekit.methods.sapnet import SAPNet
from posekit.methods.tsa import TSA
from posekit.models.base import AQAMethod
from posekit.models.hpmcore import HPMCoRe, HPMCoReLoss

METHODS: dict[str, Any] = {
    "hpmcore": HPMCoRe,
    "tsa": TSA,
    "core": CoRe,
    "sapnet": SAPNet,
    "progressive": Progressive,
    "decoupling": ScoreDecoupling,
    "dct_ridge": DCTRidge,
    "dct_svr": DCTSVR,
}


def method_class(name: str, where: str | None = None) -> Any:
    from posekit.errors import ConfigError

    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; expected one of {sorted(METHODS)}", where, "method")
    return METHODS[name]


def method_config(name: str, model: dict[str, Any], where: str | None = None) -> Any:
    """The validated config of method ``name``: the ``model:`` options, with the ``loss:``
    weights under ``loss`` for a method whose objective takes them (HP-MCoRe eq. 23). The
    other methods keep their loss weights among their model options; a ``loss:`` section
    other than the default is ignored for them with a warning (not silently)."""

    conf_cls = method_class(name, where).config_class
    model = dict(model)
    if "loss" in model and "loss" not in {f.name for f in fields(conf_cls)}:
        if model.pop("loss") != HPMCoReLoss().to_dict():
            import warnings

            own = sorted(f.name for f in fields(conf_cls) if f.name.startswith("w_"))
            warnings.warn(
                f"{where or 'config'}: method {name} does not read the loss: section (HP-MCoRe's eq. 23 weights); "
                f"it is ignored - this method's loss weights are model options {own}",
                stacklevel=2,
            )
    return conf_cls.from_dict(model, where)


def build_method(name: str, model: dict[str, Any], where: str | None = None) -> AQAMethod:
    return method_class(name, where)(method_config(name, model, where))


__all__ = ["METHODS", "AQAMethod", "MethodConfig", "build_method", "method_class", "method_config"]
