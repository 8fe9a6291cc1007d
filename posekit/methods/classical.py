"""Classical baselines as methods: Pose + DCT + ridge / SVR on the shared trainer.

Pirsiavash, Vondrick & Torralba, "Assessing the quality of actions" (ECCV 2014), Sec. 3:
each joint coordinate's trajectory is described by its lowest DCT coefficients (the
frequency-domain pose feature), and a regression maps them to the score. ``dct_ridge`` uses
ridge regression (alpha by efficient leave-one-out, scikit-learn's ``RidgeCV``); ``dct_svr``
an RBF support vector regression (``C`` by 3-fold inner cross-validation, as
:func:`posekit.models.baselines.dct_svr`). Both are fitted in closed form on the training
and validation clips (the inner cross-validation does the model selection), so the trainer
runs no epochs. The fitted regressor lives in torch buffers: checkpoints stay weights-only,
and :mod:`posekit.explain` takes gradients through the DCT, the scaler and the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from graphs.layout import get_layout
from posekit.methods.base import AQAMethod, MethodConfig
from posekit.models.base import Encoded


@dataclass
class DCTConfig(MethodConfig):
    dve: bool = False  # the skeleton only (Pirsiavash et al.'s pose feature)
    sve: bool = False
    num_coefs: int = 8  # lowest DCT coefficients per joint coordinate
    svr_c: list[float] = field(default_factory=lambda: [1.0, 10.0, 100.0])  # dct_svr: C grid
    svr_epsilon: float = 0.1
    ridge_alphas: list[float] = field(default_factory=lambda: [float(a) for a in np.logspace(-3, 3, 13)])

    def validate(self, where: str | None = None) -> None:
        from posekit.errors import ConfigError

        super().validate(where)
        if self.dve or self.sve or not self.hse:
            raise ConfigError("the DCT baselines read the skeleton only (dve: false, sve: false)", where, "model")
        if self.num_coefs > self.T:
            raise ConfigError(f"num_coefs {self.num_coefs} > T {self.T}", where, "model.num_coefs")


def dct_basis(T: int, k: int) -> torch.Tensor:
    """The first ``k`` rows of the orthonormal DCT-II matrix ``(k, T)`` (scipy's ``norm='ortho'``)."""
    t = torch.arange(T, dtype=torch.float64)
    rows = [
        torch.cos(torch.pi * (2 * t + 1) * j / (2 * T)) * (np.sqrt(1 / T) if j == 0 else np.sqrt(2 / T))
        for j in range(k)
    ]
    return torch.stack(rows)


class DCTRegression(AQAMethod):
    """Pose + DCT + a closed-form regressor (see the module docstring)."""

    name: ClassVar[str] = "dct"
    closed_form: ClassVar[bool] = True
    config_class: ClassVar[type[MethodConfig]] = DCTConfig
    _VARIABLE = ("support", "dual", "coef")  # buffers whose size the fit decides

    def __init__(self, cfg: DCTConfig):
        super().__init__(cfg)
        V = get_layout(cfg.layout).num_joints
        D = 2 * cfg.num_coefs * V
        self.register_buffer("basis", dct_basis(cfg.T, cfg.num_coefs))
        self.register_buffer("x_mean", torch.zeros(D, dtype=torch.float64))
        self.register_buffer("x_scale", torch.ones(D, dtype=torch.float64))
        self.register_buffer("coef", torch.zeros(D, dtype=torch.float64))
        self.register_buffer("support", torch.zeros(0, D, dtype=torch.float64))
        self.register_buffer("dual", torch.zeros(0, dtype=torch.float64))
        self.register_buffer("intercept", torch.zeros((), dtype=torch.float64))
        self.register_buffer("gamma", torch.zeros((), dtype=torch.float64))

    def features(self, pose: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V)`` -> ``(N, 2 k V)`` DCT coefficients of the x and y trajectories, in
        the order of :func:`posekit.models.baselines.dct_features`."""
        return torch.einsum("kt,nctv->nckv", self.basis, pose[:, :2].double()).flatten(1)

    def regress(self, x: torch.Tensor) -> torch.Tensor:
        """The fitted scaler and regressor, in float64 like scikit-learn's."""
        z = (x.double() - self.x_mean) / self.x_scale
        if len(self.support):  # RBF SVR: sum_i dual_i exp(-gamma |z - s_i|^2) + b
            k = torch.exp(-self.gamma * torch.cdist(z, self.support).pow(2))
            out = k @ self.dual + self.intercept
        else:
            out = z @ self.coef + self.intercept
        return out.float()

    def encode(
        self, batch: dict[str, torch.Tensor], use_labels: bool = False, fixed_boundaries: torch.Tensor | None = None
    ) -> Encoded:
        pred = self.regress(self.features(batch["pose"]))
        b = torch.zeros(pred.shape[0], 0, dtype=torch.long, device=pred.device)
        return Encoded(None, None, None, b, b, None, {"pred": pred})

    def score(self, q: Encoded) -> tuple[torch.Tensor, torch.Tensor]:
        pred = q.extra["pred"]  # type: ignore[index]
        return pred, pred[:, None]

    def loss(self, out: dict[str, Any], q: dict[str, torch.Tensor], e: dict[str, torch.Tensor]):
        raise RuntimeError(f"{self.name} is fitted in closed form (fit), not by gradient steps")

    def fit(self, pose: torch.Tensor, targets: np.ndarray, seed: int) -> None:
        """Fit on ``(N, C, T, V)`` training skeletons and their targets."""
        from sklearn.preprocessing import StandardScaler

        x = self.features(pose).numpy()
        sc = StandardScaler().fit(x)
        self.x_mean.copy_(torch.from_numpy(sc.mean_))
        self.x_scale.copy_(torch.from_numpy(sc.scale_))
        self._fit_regressor(sc.transform(x), np.asarray(targets, dtype=np.float64), seed)

    def _fit_regressor(self, z: np.ndarray, y: np.ndarray, seed: int) -> None:
        raise NotImplementedError

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any, **kwargs: Any) -> None:
        for name in self._VARIABLE:  # a fitted checkpoint decides these sizes
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class DCTRidge(DCTRegression):
    name: ClassVar[str] = "dct_ridge"

    def _fit_regressor(self, z: np.ndarray, y: np.ndarray, seed: int) -> None:
        from sklearn.linear_model import RidgeCV

        r = RidgeCV(alphas=list(self.cfg.ridge_alphas)).fit(z, y)
        self.coef = torch.from_numpy(np.asarray(r.coef_, np.float64))
        self.intercept.fill_(float(r.intercept_))


class DCTSVR(DCTRegression):
    name: ClassVar[str] = "dct_svr"

    def _fit_regressor(self, z: np.ndarray, y: np.ndarray, seed: int) -> None:
        from sklearn.model_selection import GridSearchCV
        from sklearn.svm import SVR

        search = GridSearchCV(
            SVR(kernel="rbf", epsilon=self.cfg.svr_epsilon),
            {"C": list(self.cfg.svr_c)},
            cv=min(3, len(y)),
            scoring="neg_mean_squared_error",
        ).fit(z, y)
        svr = search.best_estimator_
        self.support = torch.from_numpy(np.asarray(svr.support_vectors_, np.float64))
        self.dual = torch.from_numpy(np.asarray(svr.dual_coef_[0], np.float64))
        self.intercept.fill_(float(svr.intercept_[0]))
        self.gamma.fill_(float(svr._gamma))
