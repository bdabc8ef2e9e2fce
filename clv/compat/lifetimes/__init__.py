"""A drop-in for the archived ``lifetimes`` package, backed by clv's models.

``import clv.compat.lifetimes as lifetimes`` gives lifetimes' public names and
signatures -- ``BetaGeoFitter``, ``ParetoNBDFitter``, ``ModifiedBetaGeoFitter``,
``BetaGeoBetaBinomFitter``, ``GammaGammaFitter``, ``lifetimes.utils``,
``lifetimes.plotting`` and ``lifetimes.datasets`` -- so a lifetimes notebook
runs on pandas 2/3 and NumPy 2 with the same numbers (where lifetimes is
numerically sound). ``docs/migration_lifetimes.md`` maps every call to its
native clv equivalent and lists the deliberate differences.

Examples
--------
>>> import clv.compat.lifetimes as lifetimes
>>> d = lifetimes.datasets.load_cdnow_summary()
>>> bgf = lifetimes.BetaGeoFitter(penalizer_coef=0.0).fit(d["frequency"], d["recency"], d["T"])
>>> bgf.params_.round(3).tolist()
[0.243, 4.414, 0.793, 2.426]
>>> round(float(bgf.conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86)), 3)
1.226
"""

from clv.compat.lifetimes import datasets, generate_data, plotting, utils
from clv.compat.lifetimes.fitters import (
    BaseFitter,
    BetaGeoBetaBinomFitter,
    BetaGeoFitter,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)

__all__ = [
    "BaseFitter",
    "BetaGeoBetaBinomFitter",
    "BetaGeoFitter",
    "GammaGammaFitter",
    "ModifiedBetaGeoFitter",
    "ParetoNBDFitter",
    "datasets",
    "generate_data",
    "plotting",
    "utils",
]
