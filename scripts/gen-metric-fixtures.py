"""Reference values for src/ml/metrics.ts, computed by scikit-learn.

Run: python3 -m pip install scikit-learn && python3 scripts/gen-metric-fixtures.py
Writes test/fixtures/metrics/*.json (committed; the tests do not need Python).
"""
import json
import sys
from pathlib import Path

import numpy as np
import sklearn
from sklearn import metrics as M

OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "metrics"
OUT.mkdir(parents=True, exist_ok=True)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def classification(name, y_true, y_pred, y_score=None):
    exp = {"accuracy": M.accuracy_score(y_true, y_pred)}
    for avg in ("micro", "macro", "weighted"):
        cap = avg.capitalize()
        exp[f"precision{cap}"] = M.precision_score(y_true, y_pred, average=avg, zero_division=0)
        exp[f"recall{cap}"] = M.recall_score(y_true, y_pred, average=avg, zero_division=0)
        exp[f"f1{cap}"] = M.f1_score(y_true, y_pred, average=avg, zero_division=0)
    exp["confusionMatrix"] = M.confusion_matrix(y_true, y_pred).tolist()
    if y_score is not None:
        if y_score.ndim == 1:
            exp["rocAuc"] = M.roc_auc_score(y_true, y_score)
        else:
            exp["rocAuc"] = M.roc_auc_score(y_true, y_score, multi_class="ovr", average="macro")
    case = {
        "name": name,
        "kind": "classification",
        "yTrue": [int(v) for v in y_true],
        "yPred": [int(v) for v in y_pred],
        "expected": {k: (float(v) if not isinstance(v, list) else v) for k, v in exp.items()},
    }
    if y_score is not None:
        case["yScore"] = y_score.tolist()
    return case


def regression(name, y_true, y_pred):
    return {
        "name": name,
        "kind": "regression",
        "yTrue": y_true.tolist(),
        "yPred": y_pred.tolist(),
        "expected": {
            "mse": float(M.mean_squared_error(y_true, y_pred)),
            "mae": float(M.mean_absolute_error(y_true, y_pred)),
            "r2": float(M.r2_score(y_true, y_pred)),
        },
    }


rng = np.random.default_rng(20240601)
cases = []

# Multi-class, 4 classes, ~70% right, with probability scores (ties included by rounding).
y = rng.integers(0, 4, 300)
pred = np.where(rng.random(300) < 0.7, y, rng.integers(0, 4, 300))
scores = softmax(rng.normal(size=(300, 4)) + 2.0 * np.eye(4)[y])
scores = np.round(scores, 2)
scores = scores / scores.sum(axis=1, keepdims=True)
cases.append(classification("multiclass-4", y, pred, scores))

# A class that is never predicted (precision's zero division → 0) and one never true.
yt = np.array([0, 0, 1, 1, 2, 2, 2, 0, 1, 2, 0, 1])
yp = np.array([0, 1, 1, 0, 1, 1, 0, 0, 3, 1, 0, 3])
cases.append(classification("zero-division", yt, yp))

# Binary with a real-valued score for the positive class, and tied scores.
yb = rng.integers(0, 2, 200)
sb = np.round(np.clip(0.3 * yb + rng.normal(0.35, 0.25, 200), 0, 1), 1)
pb = (sb >= 0.5).astype(int)
cases.append(classification("binary", yb, pb, sb))

# All correct.
cases.append(classification("perfect", np.array([2, 0, 1, 2, 1]), np.array([2, 0, 1, 2, 1])))

# Regression.
x = rng.normal(size=250)
yr = 3.0 * x + 1.0 + rng.normal(0, 0.5, 250)
cases.append(regression("regression", yr, 3.1 * x + 0.9))
cases.append(regression("regression-constant-truth", np.full(5, 2.0), np.array([2.0, 2.5, 1.0, 2.0, 3.0])))

(OUT / "sklearn-cases.json").write_text(
    json.dumps({"sklearn": sklearn.__version__, "numpy": np.__version__, "cases": cases}, indent=1) + "\n"
)
print(f"wrote {len(cases)} cases with scikit-learn {sklearn.__version__}", file=sys.stderr)
