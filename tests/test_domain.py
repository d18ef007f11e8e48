"""The domain classifier's column importances: the shuffled copies scored in one call give
what scoring each copy on its own gives, number for number (a row's score is its own)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalgate.families.domain import Feature, _auc, _importances


def test_importances_scored_at_once_equal_one_copy_at_a_time() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    n = 3000
    y = rng.integers(0, 2, n)
    x = pd.DataFrame({
        "a": rng.normal(size=n) + y * 0.8,
        "b": pd.Categorical(rng.choice(["u", "v", "w"], n, p=[0.5, 0.3, 0.2])),
        "c": rng.normal(size=n),
    })
    x.loc[y == 1, "b"] = "w"  # b tells the sets apart too
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0,
                                           categorical_features="from_dtype").fit(x, y)
    base = _auc(y, model.predict_proba(x)[:, 1])

    expected = []
    one_by_one = np.random.default_rng(5)
    for c in x.columns:
        shuffled = x.copy()
        shuffled[c] = shuffled[c].to_numpy()[one_by_one.permutation(n)]
        if isinstance(x[c].dtype, pd.CategoricalDtype):
            shuffled[c] = pd.Categorical(shuffled[c], categories=x[c].cat.categories)
        expected.append(Feature(c, base - _auc(y, model.predict_proba(shuffled)[:, 1])))
    expected.sort(key=lambda f: -f.importance)

    found = _importances(model, x, y, base, np.random.default_rng(5))
    assert found == expected
    assert found[0].column in ("a", "b") and found[-1].column == "c"
