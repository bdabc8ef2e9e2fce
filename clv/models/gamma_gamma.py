r"""Gamma-Gamma model of the monetary value of transactions (Fader, Hardie & Lee 2005).

Pure functions first (no pandas, no state); :class:`GammaGammaModel` binds
fitted parameters to them.

Assumptions: a customer's transaction values :math:`z_1, \dots, z_x` are
independent :math:`\mathrm{Gamma}(p, \nu)` (shape :math:`p`, rate :math:`\nu`),
so their mean :math:`\bar m` is :math:`\mathrm{Gamma}(px, x\nu)`; across
customers :math:`\nu \sim \mathrm{Gamma}(q, v)` (shape :math:`q`, rate
:math:`v`); and spend is independent of the transaction process (frequency,
recency).  Only repeat transactions enter: :math:`x` = ``frequency`` and
:math:`\bar m` = ``monetary_value``.

References
----------
.. [FHL2005b] Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). RFM and CLV:
   Using iso-value curves for customer base analysis. Journal of Marketing
   Research, 42(4), 415-430.
.. [FH2013] Fader, P. S., & Hardie, B. G. S. (2013). The Gamma-Gamma model of
   monetary value. http://brucehardie.com/notes/025/
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple, overload

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from clv._ops import NUMPY
from clv._special import per_frequency
from clv._typing import FloatArray, Ops, OpsData
from clv.exceptions import DataError, DataWarning, Problem
from clv.models._covariates import Lever
from clv.models._gg_transactions import (
    MEAN_LOG_VALUE,
    log_likelihood_transactions,
    log_likelihood_transactions_gradient,
    simulate_transactions,
    spend_summary,
)
from clv.models._spec import ModelSpec
from clv.models._spend import SpendModel, SpendSpec

__all__ = [
    "GGParams",
    "GammaGammaModel",
    "expected_spend",
    "expected_spend_new_customer",
    "log_likelihood",
    "log_likelihood_gradient",
    "log_likelihood_hessian",
    "log_likelihood_transactions",
    "simulate",
    "simulate_transactions",
    "spend_frequency_correlation",
    "spend_summary",
]

#: |Pearson r| between frequency and monetary value above which fit() warns.
CORRELATION_WARNING_THRESHOLD = 0.3


class GGParams(NamedTuple):
    """Gamma-Gamma parameters: transaction shape ``p``, rate prior Gamma(q, v)."""

    p: Any
    q: Any
    v: Any


def _array_or_scalar(out: Any) -> Any:
    out = np.asarray(out, dtype=np.float64)
    return out[()] if out.ndim == 0 else out


def log_likelihood(
    params: GGParams, frequency: OpsData, monetary_value: OpsData, *, ops: Ops = NUMPY
) -> Any:
    r"""Per-customer log-likelihood: log-density of the mean spend, [FH2013]_ eq. (1).

    .. math::

       \log f(\bar m \mid p, q, v, x) = \log\frac{\Gamma(px+q)}{\Gamma(px)\Gamma(q)}
       + q\log v + (px-1)\log\bar m + px\log x - (px+q)\log(v + x\bar m)

    This is the full density of :math:`\bar m` (the Jacobian term
    :math:`px\log x` of the change from the sum to the mean included), as in
    Hardie's note, lifetimes' ``GammaGammaFitter`` and CLVTools' ``gg_LL``; it
    is evaluated as

    .. math::

       -\log B(px, q) - \log\bar m - px\log\Bigl(1 + \frac{v}{x\bar m}\Bigr)
       - q\log\Bigl(1 + \frac{x\bar m}{v}\Bigr)

    which has no cancellation of large terms.

    Parameters
    ----------
    params : GGParams
        Scalars or arrays broadcastable against the data.
    frequency, monetary_value : array_like
        Repeat transactions :math:`x` and their mean value :math:`\bar m`.
        Customers with :math:`x = 0` carry no information on spend and
        contribute 0 (their ``monetary_value`` is ignored).

    Returns
    -------
    array
        Log-likelihood per customer.

    Examples
    --------
    >>> p = GGParams(p=6.25, q=3.74, v=15.44)
    >>> round(float(log_likelihood(p, 2, 22.35)), 4)
    -3.5513
    >>> float(log_likelihood(p, 0, 0.0))
    0.0
    """
    p, q, v = params
    x, m = frequency, monetary_value
    rep = x > 0
    xs = ops.where(rep, x, 1.0)
    ms = ops.where(rep, m, 1.0)
    px = p * xs
    xm = xs * ms
    ll = -ops.betaln(px, q) - ops.log(ms) - px * ops.log1p(v / xm) - q * ops.log1p(xm / v)
    return ops.where(rep, ll, 0.0)


def log_likelihood_gradient(
    params: GGParams, frequency: ArrayLike, monetary_value: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    r"""Per-customer log-likelihood and its analytic gradient w.r.t. ``(p, q, v)``.

    .. math::

       \frac{\partial \ell}{\partial p}
       = x\bigl[\psi(px+q) - \psi(px) - \log(1 + \tfrac{v}{x\bar m})\bigr],
       \quad
       \frac{\partial \ell}{\partial q} = \psi(px+q) - \psi(q) - \log(1 + \tfrac{x\bar m}{v}),
       \quad
       \frac{\partial \ell}{\partial v} = \frac{q x\bar m / v - px}{v + x\bar m}

    Returns
    -------
    ll : ndarray, shape (n,)
    grad : ndarray, shape (3, n)

    Examples
    --------
    >>> ll, g = log_likelihood_gradient(GGParams(6.25, 3.74, 15.44), [2.0], [22.35])
    >>> g.shape
    (3, 1)
    """
    p, q, v = (float(s) for s in params)
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    rep = x > 0
    all_rep = bool(np.all(rep))
    xs = x if all_rep else np.where(rep, x, 1.0)
    ms = m if all_rep else np.where(rep, m, 1.0)
    xm = xs * ms
    px = p * xs
    log_beta, psi_px, psi_pxq = per_frequency(xs, lambda k: _px_functions(p, q, k, 1))
    l1 = np.log1p(v / xm)
    l2 = np.log1p(xm / v)
    grad = np.empty((3, *np.shape(px)))
    ll = -log_beta - np.log(ms) - px * l1 - q * l2
    grad[0] = xs * (psi_pxq - psi_px - l1)
    grad[1] = psi_pxq - special.digamma(q) - l2
    grad[2] = (q * xm / v - px) / (v + xm)
    if not all_rep:
        ll = np.where(rep, ll, 0.0)
        grad = np.where(rep, grad, 0.0)
    return ll, grad


def _px_functions(p: float, q: float, k: FloatArray, order: int) -> list[FloatArray]:
    """Order 1: ``log B(pk, q), ψ(pk), ψ(pk + q)``; order 2: ``ψ₁(pk), ψ₁(pk + q)``.

    Evaluated by :func:`~clv._special.per_frequency` once per distinct frequency;
    ``k = 0`` (masked by the callers) is evaluated at 1 to stay finite.
    """
    pk = p * np.maximum(k, 1.0)
    if order == 1:
        return [special.betaln(pk, q), special.digamma(pk), special.digamma(pk + q)]
    return [special.zeta(2.0, pk), special.zeta(2.0, pk + q)]  # trigamma = Hurwitz zeta(2, .)


def log_likelihood_hessian(
    params: GGParams, frequency: ArrayLike, monetary_value: ArrayLike, weights: ArrayLike
) -> tuple[float, FloatArray, FloatArray]:
    r"""Weighted total log-likelihood with its analytic gradient and Hessian w.r.t. ``(p, q, v)``.

    With :math:`\psi_1` the trigamma function and :math:`s = v + x\bar m`:

    .. math::

       \ell_{pp} = x^2[\psi_1(px+q) - \psi_1(px)], \quad
       \ell_{pq} = x\,\psi_1(px+q), \quad
       \ell_{pv} = -\frac{x}{s}, \quad
       \ell_{qq} = \psi_1(px+q) - \psi_1(q), \quad
       \ell_{qv} = \frac{x\bar m}{v s}, \quad
       \ell_{vv} = \frac{px}{s^2} - \frac{q\,x\bar m\,(2v + x\bar m)}{v^2 s^2}

    Returns
    -------
    ll : float
        :math:`\sum_i w_i \log L_i`.
    grad : ndarray, shape (3,)
    hess : ndarray, shape (3, 3)

    Examples
    --------
    >>> ll, g, h = log_likelihood_hessian(GGParams(6.25, 3.74, 15.44), [2.0], [22.35], [1.0])
    >>> h.shape, bool(np.allclose(h, h.T))
    ((3, 3), True)
    """
    p, q, v = (float(s) for s in params)
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    w = np.where(x > 0, np.asarray(weights, dtype=np.float64), 0.0)
    ll, grad = log_likelihood_gradient(params, x, m)
    rep = x > 0
    xs = np.where(rep, x, 1.0)
    xm = xs * np.where(rep, m, 1.0)
    tri_px, tri_pxq = per_frequency(xs, lambda k: _px_functions(p, q, k, 2))
    s = v + xm
    W = float(w.sum())
    hess = np.empty((3, 3))
    hess[0, 0] = np.sum(w * xs**2 * (tri_pxq - tri_px))
    hess[0, 1] = hess[1, 0] = np.sum(w * xs * tri_pxq)
    hess[0, 2] = hess[2, 0] = -np.sum(w * xs / s)
    hess[1, 1] = np.sum(w * tri_pxq) - W * float(special.zeta(2.0, q))
    hess[1, 2] = hess[2, 1] = np.sum(w * xm / s) / v
    hess[2, 2] = np.sum(w * (p * xs - q * xm * (2.0 * v + xm) / v**2) / s**2)
    # elementwise sums, not BLAS products: no thread start-up cost on small problems
    return float(np.sum(w * ll)), np.sum(grad * w, axis=1), hess


def expected_spend(params: GGParams, frequency: ArrayLike, monetary_value: ArrayLike) -> Any:
    r"""Expected mean value of a customer's future transactions, [FH2013]_ eq. (5).

    .. math::

       E[Z \mid p, q, v, x, \bar m] = \frac{p\,(v + x\bar m)}{px + q - 1}
       = (1 - w)\,\frac{pv}{q-1} + w\,\bar m, \qquad w = \frac{px}{px + q - 1}

    a weighted average of the population mean and the customer's own mean.
    For :math:`x = 0` it is the population mean :math:`pv/(q-1)`.  Where
    :math:`px + q \le 1` the posterior mean does not exist and the result is
    NaN (for :math:`x = 0`: whenever :math:`q \le 1`).

    Examples
    --------
    >>> p = GGParams(p=6.25, q=3.74, v=15.44)
    >>> round(float(expected_spend(p, 2, 22.35)), 4)
    24.6637
    >>> round(float(expected_spend(p, 0, 0.0)), 3)  # the population mean
    35.219
    """
    p, q, v = (np.asarray(s, dtype=np.float64) for s in params)
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    xm = np.where(x > 0, x * np.where(x > 0, m, 0.0), 0.0)
    denom = p * x + q - 1.0
    ok = denom > 0
    out = np.where(ok, p * (v + xm) / np.where(ok, denom, 1.0), np.nan)
    return _array_or_scalar(out)


def expected_spend_new_customer(params: GGParams) -> Any:
    r"""Population mean transaction value :math:`E[Z] = pv/(q-1)`, [FH2013]_.

    The mean exists only for :math:`q > 1`; elsewhere the result is NaN
    (:meth:`GammaGammaModel.expected_spend_new_customer` raises instead).

    Examples
    --------
    >>> round(float(expected_spend_new_customer(GGParams(6.25, 3.74, 15.44))), 3)
    35.219
    >>> float(expected_spend_new_customer(GGParams(6.25, 0.9, 15.44)))
    nan
    """
    return expected_spend(params, 0.0, 0.0)


def simulate(
    params: GGParams, frequency: ArrayLike, *, rng: np.random.Generator
) -> dict[str, FloatArray]:
    r"""Simulate the mean spend of customers with ``frequency`` repeat transactions.

    Vectorised: :math:`\nu_i \sim \mathrm{Gamma}(q, v)` and, since the mean of
    :math:`x` independent :math:`\mathrm{Gamma}(p, \nu)` values is
    :math:`\mathrm{Gamma}(px, x\nu)`, :math:`\bar m_i` is drawn directly.  Draws
    are made in log space (:math:`G_a = G_{a+1} U^{1/a}`), so tiny shapes do not
    underflow; mean spends are capped to the float range.

    Parameters
    ----------
    params : GGParams
        Population parameters (scalars, or arrays broadcastable to the customers).
    frequency : array_like
        Repeat transactions of each customer.
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``frequency``, ``monetary_value`` (0 where ``frequency == 0``) and the
        latent rate ``nu`` (the customer's expected transaction value is
        :math:`p/\nu`).

    Examples
    --------
    >>> sim = simulate(GGParams(6.25, 3.74, 15.44), [1, 5, 0], rng=np.random.default_rng(1))
    >>> sorted(sim), sim["monetary_value"][2]
    (['frequency', 'monetary_value', 'nu'], np.float64(0.0))
    """
    x = np.atleast_1d(np.asarray(frequency, dtype=np.float64))
    p, q, v = (np.broadcast_to(np.asarray(s, dtype=np.float64), x.shape) for s in params)
    rep = x > 0
    xs = np.where(rep, x, 1.0)
    log_nu = _log_gamma_draws(q, rng) - np.log(v)
    # mean of x Gamma(p, nu) values ~ Gamma(px, x nu) = Gamma(px, 1) / (x nu)
    log_m = _log_gamma_draws(p * xs, rng) - np.log(xs) - log_nu
    m = np.where(rep, np.exp(np.clip(log_m, -745.0, 709.0)), 0.0)
    return {"frequency": x.copy(), "monetary_value": m, "nu": np.exp(log_nu)}


def _log_gamma_draws(shape: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Logs of Gamma(shape, 1) draws, exact for tiny shapes (no underflow to 0)."""
    u = 1.0 - rng.random(shape.shape)  # in (0, 1]
    return np.log(rng.gamma(shape + 1.0)) + np.log(u) / shape


def spend_frequency_correlation(data: pd.DataFrame) -> float:
    """Pearson correlation between ``frequency`` and ``monetary_value`` among repeat buyers.

    The Gamma-Gamma model assumes the value of a customer's transactions is
    independent of how often they buy; a clear correlation (|r| > 0.3, when
    :meth:`GammaGammaModel.fit` warns) says that assumption is doubtful.

    Parameters
    ----------
    data : DataFrame
        RFM frame with ``frequency`` and ``monetary_value``.

    Returns
    -------
    float
        NaN when there are fewer than 3 repeat buyers or a column is constant.

    Examples
    --------
    >>> frame = pd.DataFrame({"frequency": [0, 1, 2, 3, 4], "monetary_value": [0, 10, 12, 15, 11]})
    >>> round(spend_frequency_correlation(frame), 3)
    0.359
    """
    x = data["frequency"].to_numpy(dtype=np.float64)
    m = data["monetary_value"].to_numpy(dtype=np.float64)
    keep = (x > 0) & np.isfinite(m) & (m > 0)  # the rows the model is fitted on
    x, m = x[keep], m[keep]
    if x.size < 3:
        return float("nan")
    dx, dm = x - x.mean(), m - m.mean()
    # elementwise sums rather than BLAS dot products: no thread start-up on loaded machines
    sx, sm = float(np.sqrt(np.sum(dx * dx))), float(np.sqrt(np.sum(dm * dm)))
    if sx == 0.0 or sm == 0.0:
        return float("nan")
    return float(np.clip(np.sum(dx * dm) / (sx * sm), -1.0, 1.0))


def _initial(frequency: FloatArray, monetary_value: FloatArray) -> GGParams:
    """Starting values on the (rescaled) data: population mean = mean of the observed means."""
    mean = float(np.mean(monetary_value[frequency > 0])) if np.any(frequency > 0) else 1.0
    return GGParams(p=1.0, q=3.0, v=2.0 * max(mean, 1e-6))


def _zero_value_repeat_buyers(data: Any) -> int:
    """Number of repeat buyers with ``monetary_value == 0`` (0 when the columns are unusable)."""
    try:
        x = pd.to_numeric(data["frequency"], errors="coerce").to_numpy(dtype=np.float64)
        m = pd.to_numeric(data["monetary_value"], errors="coerce").to_numpy(dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return 0
    return int(((x > 0) & (m == 0)).sum())


def _repeat_buyers(frame: pd.DataFrame) -> Any:
    """Rows the likelihood uses: repeat buyers with positive mean spend.

    Repeat buyers whose repeat purchases are all worth 0 carry no information
    on the (positive) spend distribution; they are left out of the fit and
    scored like everyone else (expected spend ``p v / (p x + q - 1)`` at m = 0).
    """
    x = frame["frequency"].to_numpy()
    return (x > 0) & (frame["monetary_value"].to_numpy() > 0)


SPEC = SpendSpec(
    name="Gamma-Gamma",
    params=GGParams,
    start=GGParams(p=1.0, q=3.0, v=1.0),
    columns=("frequency", "monetary_value"),
    log_likelihood=log_likelihood,
    gradient=log_likelihood_gradient,
    hessian=log_likelihood_hessian,
    initial=_initial,
    scale_columns=("monetary_value",),
    scale_params=("v",),
    fit_rows=_repeat_buyers,
    simulate=simulate,
    expected_spend=expected_spend,
    expected_spend_new_customer=expected_spend_new_customer,
)


def _initial_transactions(
    frequency: FloatArray, monetary_value: FloatArray, mean_log_value: FloatArray
) -> GGParams:
    return _initial(frequency, monetary_value)


SPEC_TRANSACTIONS = replace(
    SPEC,
    name="Gamma-Gamma (transactions)",
    columns=("frequency", "monetary_value", MEAN_LOG_VALUE),
    log_likelihood=log_likelihood_transactions,
    gradient=log_likelihood_transactions_gradient,
    hessian=None,
    initial=_initial_transactions,
    # no rescaling: the mean log value would shift with the unit of spend
    scale_columns=(),
    scale_params=(),
)

_LIKELIHOODS = ("mean", "transactions")


def _estimation_spec(likelihood: str, q_constraint: bool, mean_spec: SpendSpec = SPEC) -> SpendSpec:
    """The spec of a likelihood, with ``q`` on ``(1, inf)`` (``"log1"``) under ``q_constraint``.

    ``mean_spec`` is the spec of the per-customer-mean likelihood (a subclass's ``spec``).
    """
    spec = SPEC_TRANSACTIONS if likelihood == "transactions" else mean_spec
    if q_constraint:
        spec = replace(spec, transforms=("log", "log1", "log"), start=GGParams(1.0, 3.0, 1.0))
    return spec


def _jensen_problems(frame: pd.DataFrame) -> list[Problem]:
    """Rows where the mean log value exceeds the log of the mean value (impossible)."""
    x = frame["frequency"].to_numpy(dtype=np.float64)
    m = frame["monetary_value"].to_numpy(dtype=np.float64)
    ell = frame[MEAN_LOG_VALUE].to_numpy(dtype=np.float64)
    rep = (x > 0) & (m > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        bad = rep & (ell > np.log(np.where(rep, m, 1.0)) + 1e-9 * (1.0 + np.abs(ell)))
    if not bad.any():
        return []
    return [
        Problem(
            MEAN_LOG_VALUE,
            f"is larger than log(monetary_value) for {int(bad.sum())} customers, which no set "
            "of positive values allows (the mean of logs is at most the log of the mean)",
            "compute both columns from the same transactions, e.g. with "
            "clv.models.gamma_gamma.spend_summary",
            list(frame.index[bad][:5]),
        )
    ]


def _refuse_constant_spend(frame: pd.DataFrame, name: str) -> None:
    """DataError when at least two repeat buyers exist and all have one monetary_value."""
    repeat = frame["frequency"].to_numpy() > 0
    spend = frame["monetary_value"].to_numpy(dtype=np.float64)[repeat]
    if spend.size >= 2 and np.all(spend == spend[0]):
        raise DataError(
            [
                Problem(
                    "monetary_value",
                    f"is {spend[0]:g} for all {spend.size} repeat buyers",
                    "Gamma-Gamma estimates how mean spend varies across customers, and here "
                    "it does not vary: use that value as the expected spend (CLV = value x "
                    "expected purchases), or check the value column",
                )
            ],
            what=f"the data passed to {name}",
        )


class GammaGammaModel(SpendModel):
    r"""Gamma-Gamma model of the mean transaction value, fitted by maximum likelihood.

    A customer's transaction values are :math:`\mathrm{Gamma}(p, \nu)` around
    their own mean :math:`p/\nu`, and :math:`\nu \sim \mathrm{Gamma}(q, v)`
    across customers ([FHL2005b]_, [FH2013]_).  Only repeat buyers
    (``frequency > 0``) enter the fit; predictions for customers without
    repeat purchases are the population mean :math:`pv/(q-1)`.

    The model assumes spend is independent of purchase frequency.
    :meth:`fit` stores the Pearson correlation of the two among repeat buyers
    in ``spend_frequency_correlation_`` and issues a
    :class:`~clv.exceptions.DataWarning` when its absolute value exceeds 0.3.

    Pass :meth:`fit` the whole RFM frame: one-time buyers and repeat buyers
    whose purchases are all worth 0 are left out of the likelihood
    automatically (the latter with a :class:`~clv.exceptions.DataWarning`)
    and are scored by :meth:`expected_spend` like everyone else. When every
    repeat buyer has the same ``monetary_value``, the spread of spend across
    customers, which the model estimates, is zero and :meth:`fit` raises
    :class:`~clv.exceptions.DataError`.

    Required columns: ``frequency``, ``monetary_value`` (> 0 for repeat
    buyers; 0 or NaN allowed for the others), optional ``weight``.

    Covariates (``spend_covariates=``): :math:`v_i = v_0 e^{\gamma_s^\top x_i}`,
    which multiplies the expected spend by :math:`e^{\gamma_s^\top x_i}`;
    ``covariate_penalty`` and ``coefficient_priors`` as in
    :class:`~clv.models._base.ParametricModel`.

    ``likelihood="transactions"`` fits the density of every transaction value
    (:mod:`clv.models._gg_transactions`) instead of the density of their
    mean: the data then also need ``mean_log_value``, the mean of the logs of
    a customer's repeat transaction values (:func:`spend_summary` builds all
    three columns from a transaction log).  It uses the within-customer spread
    of values, so ``p`` (and the expected spend) are estimated more precisely;
    predictions are the same functions of ``frequency`` and ``monetary_value``.

    ``q_constraint=True`` (lifetimes' ``fit(..., q_constraint=True)``) keeps
    :math:`q > 1` (optimised as :math:`q = 1 + e^u`), so the population mean
    spend :math:`pv/(q-1)` exists; it changes nothing when the unconstrained
    estimate already has :math:`q > 1`.

    Examples
    --------
    >>> from clv.data.datasets import load_cdnow_summary_with_spend
    >>> rfm = load_cdnow_summary_with_spend()  # CDNOW, 946 of 2,357 customers buy again
    >>> model = GammaGammaModel().fit(rfm)
    >>> model.params_.round(3).to_dict(), round(model.log_likelihood_, 2)
    ({'p': 6.249, 'q': 3.745, 'v': 15.448}, -4055.92)
    >>> model.expected_spend(rfm).head(3).round(2).tolist()  # customer 3 has frequency 0
    [24.66, 18.91, 35.17]
    >>> round(model.expected_spend_new_customer(), 2)
    35.17
    """

    spec = SPEC
    _levers = (Lever("spend", "v", 1.0),)

    def __init__(
        self,
        *,
        penalizer: float = 0.0,
        spend_covariates: Sequence[str] | None = None,
        covariate_penalty: float | Mapping[str, float] = 0.0,
        coefficient_priors: Mapping[str, tuple[float, float]] | None = None,
        covariate_penalty_units: str = "standardised",
        q_constraint: bool = False,
        likelihood: str = "mean",
    ) -> None:
        super().__init__(
            penalizer=penalizer,
            covariates={"spend": spend_covariates},
            covariate_penalty=covariate_penalty,
            coefficient_priors=coefficient_priors,
            covariate_penalty_units=covariate_penalty_units,
        )
        if likelihood not in _LIKELIHOODS:
            raise ValueError(
                f"likelihood must be 'mean' (density of each customer's mean value) or "
                f"'transactions' (every value; needs a mean_log_value column), got {likelihood!r}."
            )
        if not isinstance(q_constraint, bool | np.bool_):
            raise ValueError(f"q_constraint must be True or False, got {q_constraint!r}.")
        self.q_constraint = q_constraint
        self.likelihood = likelihood

    def _estimation_spec(self) -> ModelSpec:
        return _estimation_spec(self.likelihood, bool(self.q_constraint), self.spec)

    def _init_kwargs(self) -> dict[str, Any]:
        out = super()._init_kwargs()
        if self.q_constraint:
            out["q_constraint"] = True
        if self.likelihood != "mean":
            out["likelihood"] = self.likelihood
        return out

    def _before_fit(self, data: pd.DataFrame) -> None:
        zero = _zero_value_repeat_buyers(data)
        if zero:
            warnings.warn(
                f"{zero} repeat buyers have monetary_value 0 (every repeat purchase worth 0): "
                "Gamma-Gamma is fitted on the repeat buyers with positive spend and still "
                "scores them and the one-time buyers. Nothing to do unless the zeros are "
                "errors in the data.",
                DataWarning,
                stacklevel=3,
            )
        _refuse_constant_spend(self._frame(data), type(self).__name__)
        if self.likelihood == "transactions":
            frame = self._frame(data, self._estimation_spec().columns)
            problems = _jensen_problems(frame)
            if problems:
                raise DataError(problems, what=f"the data passed to {type(self).__name__}")

    def _after_fit(self, data: pd.DataFrame) -> None:
        r = spend_frequency_correlation(data)
        self.spend_frequency_correlation_ = r
        if np.isfinite(r) and abs(r) > CORRELATION_WARNING_THRESHOLD:
            warnings.warn(
                f"frequency and monetary_value are correlated among repeat buyers (Pearson r = "
                f"{r:.2f}); the Gamma-Gamma model assumes spend is independent of purchase "
                "frequency, so its spend predictions (and CLV) may be biased. Consider segmenting "
                "customers or a model with dependence between spend and frequency.",
                DataWarning,
                stacklevel=3,
            )

    @overload
    def expected_spend_new_customer(self, *, covariates: None = None) -> float: ...
    @overload
    def expected_spend_new_customer(self, *, covariates: pd.DataFrame) -> pd.Series: ...
    def expected_spend_new_customer(
        self, *, covariates: pd.DataFrame | None = None
    ) -> float | pd.Series:
        """Population mean transaction value :math:`pv/(q-1)`.

        Parameters
        ----------
        covariates : DataFrame, optional
            For a model with spend covariates: one row per customer with the
            covariate columns; returns the mean transaction value of a new
            customer with those covariates (a Series aligned to the index).
            Without it, the value for a customer with every covariate at 0.

        Raises
        ------
        ValueError
            When ``q <= 1``: the mean of the fitted spend distribution is infinite.
        """
        p = self._p
        if covariates is not None:
            self.expected_spend_new_customer()  # raises when the mean is undefined
            values = expected_spend_new_customer(self._customer_params(covariates))
            return self._series(
                np.asarray(values) * np.ones(len(covariates)),
                covariates,
                "expected_spend_new_customer",
            )
        if not float(p.q) > 1.0:
            raise ValueError(
                f"the population mean spend p*v/(q-1) is infinite because q = {float(p.q):.4g} "
                "<= 1 "
                "(a very heavy right tail of customer mean spend). Check monetary_value for "
                "outliers, or cap it, before fitting."
            )
        return float(expected_spend_new_customer(p))
