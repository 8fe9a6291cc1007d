"""Classical baselines measured next to the deep models.

* :func:`dct_features` + :func:`dct_svr` - Pirsiavash, Vondrick & Torralba, "Assessing the
  quality of actions" (ECCV 2014): each joint coordinate's trajectory is described by its
  lowest DCT coefficients (the frequency-domain pose feature of their Sec. 3), and a
  support vector regression maps them to the score. Here: scipy's orthonormal DCT-II,
  scikit-learn's RBF SVR with C chosen by inner cross-validation.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dct


def dct_features(pose: np.ndarray, num_coefs: int = 8) -> np.ndarray:
    """``(C, T, V)`` skeleton (x, y[, conf]) -> ``2 * V * num_coefs`` DCT coefficients of the
    x and y trajectories (confidence dropped)."""
    xy = np.asarray(pose)[:2]  # (2, T, V)
    coefs = dct(xy, type=2, norm="ortho", axis=1)[:, :num_coefs]  # (2, k, V)
    return coefs.reshape(-1).astype(np.float64)


def dct_svr(seed: int = 0, cs: tuple[float, ...] = (1.0, 10.0, 100.0)):
    """StandardScaler + SVR(rbf) with ``C`` picked by 3-fold CV on the training data."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    pipe = make_pipeline(StandardScaler(), SVR(kernel="rbf", epsilon=0.1))
    return GridSearchCV(pipe, {"svr__C": list(cs)}, cv=3, scoring="neg_mean_squared_error")
