"""Model comparison by PSIS-LOO (ArviZ) on the per-customer log-likelihood."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Literal

import arviz as az
import pandas as pd

from clv.bayes._base import BayesModel

__all__ = ["compare"]


def compare(
    models: Mapping[str, BayesModel],
    *,
    scale: Literal["log", "negative_log", "deviance"] = "log",
) -> pd.DataFrame:
    """Rank fitted Bayesian models by their expected log predictive density (PSIS-LOO).

    Every model needs the per-customer log-likelihood in its ``idata_`` (stored
    by ``fit`` by default, or added with ``model.add_log_likelihood(data)``),
    all on the same customers.

    Parameters
    ----------
    models : mapping
        ``{name: fitted model}``, at least two.
    scale : {"log", "negative_log", "deviance"}, default "log"
        As in :func:`arviz.compare` (``"log"``: higher ``elpd_loo`` is better).

    Returns
    -------
    DataFrame
        One row per model, best first: ``rank``, ``elpd_loo``, ``p_loo``,
        ``elpd_diff``, ``weight`` (stacking), ``se``, ``dse``, ``warning``
        (True when a Pareto k exceeds ArviZ's threshold: LOO unreliable for
        some customers) and ``scale``.

    Raises
    ------
    ValueError
        Fewer than two models, an unfitted model, a model without the
        pointwise log-likelihood, or models fitted on different customers.
    """
    if len(models) < 2:
        raise ValueError(
            "compare needs at least two fitted models, e.g. {'BG/NBD': bg, 'Pareto/NBD': pnbd}."
        )
    sizes = {}
    for name, model in models.items():
        idata = getattr(model, "idata_", None)
        if idata is None:
            raise ValueError(f"model {name!r} is not fitted.")
        if "log_likelihood" not in idata.groups():
            raise ValueError(
                f"model {name!r} has no per-customer log-likelihood in its idata_; "
                "call model.add_log_likelihood(data) with the data it was fitted on."
            )
        sizes[name] = int(idata.log_likelihood.sizes["customer_id"])
    if len(set(sizes.values())) > 1:
        raise ValueError(
            f"the models were fitted on different numbers of customers ({sizes}); "
            "LOO compares models on the same customers."
        )
    with warnings.catch_warnings():
        # high Pareto k is reported per model in the ``warning`` column instead
        warnings.filterwarnings("ignore", "Estimated shape parameter of Pareto", UserWarning)
        # ArviZ's own use of a pandas keyword that pandas deprecates (not actionable here)
        warnings.filterwarnings("ignore", "The inplace keyword", Warning)
        return az.compare({name: m.idata_ for name, m in models.items()}, ic="loo", scale=scale)
