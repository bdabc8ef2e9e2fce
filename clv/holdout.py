r"""Holdout evaluation of transaction models: does a (CX-)covariate model predict better?

Each model, fitted on the calibration period, predicts the holdout period of
the same customers (:func:`clv.data.calibration_holdout_split`). Reported per
model:

* **log score**: the holdout log-likelihood of purchase incidence,
  :math:`\sum_i y_i\log \hat p_i + (1-y_i)\log(1-\hat p_i)` with
  :math:`y_i = 1` if customer :math:`i` bought in the holdout and
  :math:`\hat p_i = P(X(T, T+\tau_i] > 0 \mid \text{history})`;
* **Brier score** of the same probabilities, and a reliability table
  (deciles of :math:`\hat p`: predicted vs observed share);
* MAE/RMSE of the holdout purchase counts, totals, and the conditional
  expectations by calibration frequency (Fader, Hardie & Lee 2005, Figure 4).

:math:`P(\text{no purchase in } (T, T+\tau])` given the history:

* BG/NBD and MBG/NBD: a customer alive at :math:`T` with
  :math:`\lambda \sim \mathrm{Gamma}(r+x, \alpha+T)` makes no purchase with
  probability :math:`((\alpha+T)/(\alpha+T+\tau))^{r+x}` (dropout happens only
  after a purchase), so :math:`1 - P_a + P_a((\alpha+T)/(\alpha+T+\tau))^{r+x}`.
* Pareto/NBD: alive at :math:`T`, with :math:`A = \alpha+T`, :math:`B = \beta+T`,
  no purchase before death or :math:`\tau`:
  :math:`(A/(A+\tau))^{r+x}(B/(B+\tau))^{s} + \int_0^\tau \frac{s}{B+u}
  (\frac{B}{B+u})^{s}(\frac{A}{A+u})^{r+x}du` (Gauss-Legendre quadrature).

Models with covariates are evaluated at each customer's own parameters
(``individual_params``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clv._metrics import mean_absolute_percentage_error, prediction_errors
from clv.exceptions import DataError, Problem

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "HoldoutEvaluation",
    "evaluate_holdout",
    "mean_absolute_percentage_error",
    "prediction_errors",
    "probability_no_purchases",
]

_HOLDOUT = ("frequency_holdout", "duration_holdout")
_GL_NODES = 48


def _individual(model: Any, data: pd.DataFrame) -> dict[str, np.ndarray]:
    ind = model.individual_params(data)
    return {c: ind[c].to_numpy(dtype=np.float64) for c in ind.columns}


def probability_no_purchases(model: Any, t: Any, data: pd.DataFrame) -> pd.Series:
    """Probability of no repeat purchase in the next ``t`` periods, given each history.

    Parameters
    ----------
    model : BetaGeoModel, ModifiedBetaGeoModel or ParetoNBDModel
        Fitted (with or without covariates).
    t : float or array_like
        Periods ahead (one value, or one per customer).
    data : DataFrame
        ``frequency``, ``recency``, ``T`` and any covariates of the model.

    Returns
    -------
    Series
        Aligned to ``data.index``.

    Examples
    --------
    >>> from clv.data.datasets import load_cdnow_summary
    >>> from clv.models import ParetoNBDModel
    >>> data = load_cdnow_summary()
    >>> p0 = probability_no_purchases(ParetoNBDModel().fit(data), 39.0, data)
    >>> bool(((p0 > 0) & (p0 < 1)).all())
    True
    """
    from clv.models import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel

    x, T = (data[c].to_numpy(dtype=np.float64) for c in ("frequency", "T"))
    tau = np.broadcast_to(np.asarray(t, dtype=np.float64), x.shape)
    if np.any(~np.isfinite(tau) | (tau < 0)):
        raise ValueError("t must be finite and >= 0.")
    p_alive = model.probability_alive(data).to_numpy(dtype=np.float64)
    ind = _individual(model, data)
    r, alpha = ind["r"], ind["alpha"]
    A = alpha + T
    log_stay = -(r + x) * np.log1p(tau / A)  # log E[e^{-lambda tau}]
    if isinstance(model, BetaGeoModel | ModifiedBetaGeoModel):
        p0 = 1.0 - p_alive + p_alive * np.exp(log_stay)
    elif isinstance(model, ParetoNBDModel):
        s, beta = ind["s"], ind["beta"]
        B = beta + T
        survive = np.exp(log_stay - s * np.log1p(tau / B))
        nodes, weights = np.polynomial.legendre.leggauss(_GL_NODES)
        u = 0.5 * tau[:, None] * (nodes[None, :] + 1.0)
        integrand = (
            s[:, None]
            / (B[:, None] + u)
            * np.exp(
                -s[:, None] * np.log1p(u / B[:, None]) - (r + x)[:, None] * np.log1p(u / A[:, None])
            )
        )
        die_first = 0.5 * tau * np.add.reduce(integrand * weights[None, :], axis=1)
        p0 = 1.0 - p_alive + p_alive * (survive + die_first)
    else:
        raise TypeError(
            f"probability_no_purchases supports BG/NBD, MBG/NBD and Pareto/NBD, "
            f"not {type(model).__name__}."
        )
    return pd.Series(np.clip(p0, 0.0, 1.0), index=data.index, name="probability_no_purchases")


@dataclass
class HoldoutEvaluation:
    """Result of :func:`evaluate_holdout`.

    Attributes
    ----------
    summary : DataFrame
        One row per model: ``n_customers``, ``log_score`` (sum), ``log_score_mean``,
        ``brier``, ``mae``, ``rmse``, ``actual_total``, ``predicted_total``,
        ``total_error_pct``, ``base_rate`` (observed share buying in the holdout).
    predictions : DataFrame
        Per customer: ``frequency_holdout``, ``purchased`` and per model
        ``expected_<name>``, ``p_purchase_<name>``.
    by_frequency : DataFrame
        Mean holdout purchases by calibration frequency: ``actual`` and one
        column per model.
    reliability : DataFrame
        Per model and decile of predicted probability: ``predicted``, ``observed``,
        ``n_customers``.
    """

    summary: pd.DataFrame
    predictions: pd.DataFrame
    by_frequency: pd.DataFrame
    reliability: pd.DataFrame

    def plot_reliability(self, *, ax: Axes | None = None) -> Axes:
        """Reliability diagram of P(purchase in holdout): predicted vs observed, per model."""
        import matplotlib.pyplot as plt

        ax = plt.gca() if ax is None else ax
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
        for name, g in self.reliability.groupby("model", sort=False):
            brier = self.summary["brier"].loc[name]
            ax.plot(g["predicted"], g["observed"], "o-", label=f"{name} (Brier {brier:.4f})")
        ax.set_xlabel("predicted P(purchase in holdout)")
        ax.set_ylabel("observed share purchasing")
        ax.set_title("Calibration of purchase probabilities")
        ax.legend(loc="best", fontsize="small")
        return ax

    def plot_by_frequency(self, *, ax: Axes | None = None) -> Axes:
        """Mean holdout purchases by calibration frequency: actual vs each model."""
        import matplotlib.pyplot as plt

        ax = plt.gca() if ax is None else ax
        pos = np.arange(len(self.by_frequency))
        ax.plot(pos, self.by_frequency["actual"], "k-o", label="actual")
        for col in self.by_frequency.columns:
            if col not in ("actual", "n_customers"):
                ax.plot(pos, self.by_frequency[col], "--", marker=".", label=col)
        ax.set_xticks(pos, self.by_frequency.index)
        ax.set_xlabel("purchases in the calibration period")
        ax.set_ylabel("mean purchases in the holdout")
        ax.set_title("Conditional expectations")
        ax.legend(loc="best", fontsize="small")
        return ax

    def _repr_html_(self) -> str:
        return self.summary.to_html(float_format=lambda v: f"{v:,.4f}")


def evaluate_holdout(
    models: Mapping[str, Any], data: pd.DataFrame, *, max_frequency: int = 7, n_bins: int = 10
) -> HoldoutEvaluation:
    """Compare fitted transaction models on the holdout period.

    Parameters
    ----------
    models : mapping
        ``name -> fitted model`` (all fitted on the calibration columns of ``data``),
        e.g. ``{"plain": ParetoNBDModel().fit(cal), "cx": ParetoNBDModel(
        purchase_covariates=[...], dropout_covariates=[...]).fit(cal)}``.
    data : DataFrame
        From :func:`clv.data.calibration_holdout_split` (joined with the models'
        covariates): ``frequency``, ``recency``, ``T``, ``frequency_holdout``,
        ``duration_holdout``.
    max_frequency : int, default 7
        Last bin of the conditional expectations (``≥ max_frequency``).
    n_bins : int, default 10
        Bins (quantiles of the predicted probability) of the reliability table.

    Returns
    -------
    HoldoutEvaluation
    """
    if not models:
        raise ValueError("give at least one fitted model: {name: model}.")
    missing = [c for c in ("frequency", "recency", "T", *_HOLDOUT) if c not in data.columns]
    if missing:
        raise DataError(
            [
                Problem(c, "column is missing", "split with clv.data.calibration_holdout_split")
                for c in missing
            ],
            what="the holdout data",
        )
    y_count = data["frequency_holdout"].to_numpy(dtype=np.float64)
    tau = data["duration_holdout"].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(y_count) | (y_count < 0) | ~np.isfinite(tau) | (tau <= 0)
    if bad.any():
        raise DataError(
            [
                Problem(
                    "frequency_holdout / duration_holdout",
                    "holdout counts must be >= 0 and durations > 0",
                    "drop customers without a holdout window",
                    rows=list(data.index[bad][:5]),
                )
            ],
            what="the holdout data",
        )
    purchased = (y_count > 0).astype(np.float64)
    pred = pd.DataFrame({"frequency_holdout": y_count, "purchased": purchased}, index=data.index)
    rows, rel = {}, []
    freq_bins = np.minimum(data["frequency"].to_numpy(dtype=np.float64), max_frequency)
    labels = [str(k) for k in range(max_frequency)] + [f"≥{max_frequency}"]
    by_freq = pd.DataFrame(
        {"n_customers": np.bincount(freq_bins.astype(int), minlength=max_frequency + 1)},
        index=pd.Index(labels, name="frequency"),
    )
    by_freq["actual"] = _bin_means(y_count, freq_bins, max_frequency)
    for name, model in models.items():
        expected = model.expected_purchases(tau, data).to_numpy(dtype=np.float64)
        p = 1.0 - probability_no_purchases(model, tau, data).to_numpy()
        pc = np.clip(p, 1e-12, 1 - 1e-12)
        log_score = purchased * np.log(pc) + (1 - purchased) * np.log1p(-pc)
        errors = prediction_errors(y_count, expected)
        rows[name] = {
            "n_customers": len(data),
            "log_score": float(log_score.sum()),
            "log_score_mean": float(log_score.mean()),
            "brier": float(np.mean((p - purchased) ** 2)),
            **{k: errors[k] for k in ("mae", "rmse", "actual_total", "predicted_total")},
            "total_error_pct": (
                float("nan") if errors["total_error_pct"] is None else errors["total_error_pct"]
            ),
            "base_rate": float(purchased.mean()),
        }
        pred[f"expected_{name}"] = expected
        pred[f"p_purchase_{name}"] = p
        by_freq[name] = _bin_means(expected, freq_bins, max_frequency)
        edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
        which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
        for b in np.unique(which):
            m = which == b
            rel.append(
                {
                    "model": name,
                    "bin": int(b),
                    "predicted": float(p[m].mean()),
                    "observed": float(purchased[m].mean()),
                    "n_customers": int(m.sum()),
                }
            )
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.index.name = "model"
    return HoldoutEvaluation(summary, pred, by_freq, pd.DataFrame(rel))


def _bin_means(values: np.ndarray, bins: np.ndarray, max_frequency: int) -> np.ndarray:
    k = bins.astype(int)
    n = np.bincount(k, minlength=max_frequency + 1).astype(np.float64)
    s = np.bincount(k, weights=values, minlength=max_frequency + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / n, np.nan)
