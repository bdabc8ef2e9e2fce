r"""Pareto/NBD with correlated purchase and dropout rates (Sarmanov mixing).

Pure functions first (no pandas, no state); :class:`ParetoNBDCorrelatedModel`
binds fitted parameters to them.

The Pareto/NBD draws each customer's purchase rate :math:`\lambda \sim
\mathrm{Gamma}(r, \alpha)` and dropout rate :math:`\mu \sim \mathrm{Gamma}(s,
\beta)` independently.  Here they are joined by a Sarmanov density with the
mixing functions :math:`\phi_1(\lambda) = e^{-\lambda} - L_A`,
:math:`\phi_2(\mu) = e^{-\mu} - L_B` ([GLC2015]_, as in CLVTools'
``pnbd(use.cor = TRUE)``):

.. math::

   g(\lambda, \mu) = g_{r,\alpha}(\lambda)\, g_{s,\beta}(\mu)
   \bigl[1 + \omega\, \phi_1(\lambda)\, \phi_2(\mu)\bigr],
   \qquad L_A = \Bigl(\frac{\alpha}{\alpha+1}\Bigr)^r,\
   L_B = \Bigl(\frac{\beta}{\beta+1}\Bigr)^s .

The marginals stay Gamma; the correlation of :math:`\lambda` and :math:`\mu` is

.. math::

   \rho = \omega\, \frac{\sqrt{r}}{1+\alpha} L_A\, \frac{\sqrt{s}}{1+\beta} L_B ,

and :math:`\rho` is the parameter here (``rho``).  Because
:math:`e^{-\lambda} g_{r,\alpha}(\lambda) = L_A\, g_{r,\alpha+1}(\lambda)`, the
joint density is a signed mixture of four independent Pareto/NBD priors,

.. math::

   g = (1+K)\, g_{\alpha,\beta} + K\, g_{\alpha+1,\beta+1}
       - K\, g_{\alpha+1,\beta} - K\, g_{\alpha,\beta+1},
   \qquad K = \omega L_A L_B = \rho\, \frac{(1+\alpha)(1+\beta)}{\sqrt{rs}},

so every quantity is the same combination of ordinary Pareto/NBD ones: the
likelihood with the prior weights, the predictions of a customer with the
posterior weights :math:`c_j L_j / L`.  Nothing of the Pareto/NBD math is
repeated here; it comes from :mod:`clv.models.pareto_nbd`.

The density is non-negative only for :math:`\omega` in
:math:`[-1/\max(L_A L_B, (1-L_A)(1-L_B)),\ 1/\max(L_A(1-L_B), (1-L_A)L_B)]`
(see :func:`correlation_bounds`); outside, the log-likelihood is ``-inf``.  The
mixing function :math:`e^{-\lambda}` is in the data's time unit, so, unlike
the Pareto/NBD, the model (and the range of :math:`\rho` it allows) depends on
that unit; with weekly data and :math:`\alpha, \beta \gg 1` that range is
narrow (a few hundredths).

References
----------
.. [GLC2015] Glady, N., Lemmens, A., & Croux, C. (2015). Unveiling the
   relationship between the transaction timing, spending and dropout behavior
   of customers. International Journal of Research in Marketing, 32(1), 78-93.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from clv._ops import NUMPY
from clv._typing import FloatArray, Ops
from clv.models import _pareto_nbd_math as _math
from clv.models import pareto_nbd as _pnbd
from clv.models._output import float_output as _out
from clv.models._simulation import observe_purchases
from clv.models._spec import ModelSpec
from clv.models._transaction import TransactionModel
from clv.models.pareto_nbd import PNBDParams

__all__ = [
    "PNBDCorFitParams",
    "PNBDCorParams",
    "ParetoNBDCorrelatedModel",
    "conditional_probability_of_purchases",
    "correlation_bounds",
    "expected_purchases",
    "expected_purchases_new_customer",
    "log_likelihood",
    "log_likelihood_gradient",
    "omega",
    "probability_alive",
    "probability_alive_at",
    "probability_of_purchases",
    "simulate",
    "to_kappa",
    "to_rho",
]

#: (alpha shift, beta shift) of the four components, in this order
_SHIFTS = ((0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0))
_SIGNS = np.array([1.0, 1.0, -1.0, -1.0])  # c_j = [j == 0] + sign_j * K


class PNBDCorParams(NamedTuple):
    """Pareto/NBD parameters plus ``rho``, the correlation of the purchase and dropout rates."""

    r: Any
    alpha: Any
    s: Any
    beta: Any
    rho: Any


def _scalars(params: PNBDCorParams) -> tuple[float, float, float, float, float]:
    r, alpha, s, beta, rho = (float(v) for v in params)
    return r, alpha, s, beta, rho


def _laplace(shape: float, scale: float) -> tuple[float, float]:
    """``(L, 1 - L)`` with ``L = E[e^{-rate}] = (scale / (scale + 1))^shape``, both accurate."""
    log_l = shape * (np.log(scale) - np.log1p(scale))
    return float(np.exp(log_l)), float(-np.expm1(log_l))


def _cor_factor(r: float, alpha: float, s: float, beta: float) -> float:
    """``rho / omega``: the correlation per unit of the Sarmanov coefficient."""
    la, _ = _laplace(r, alpha)
    lb, _ = _laplace(s, beta)
    return float(np.sqrt(r * s) / ((1.0 + alpha) * (1.0 + beta)) * la * lb)


def omega(params: PNBDCorParams) -> float:
    r"""The Sarmanov coefficient :math:`\omega = \rho / (\frac{\sqrt r}{1+\alpha} L_A
    \frac{\sqrt s}{1+\beta} L_B)` (CLVTools' ``correlation.param.m``).

    Examples
    --------
    >>> round(omega(PNBDCorParams(1.5, 80.0, 0.6, 50.0, 0.0)), 12)
    0.0
    """
    r, alpha, s, beta, rho = _scalars(params)
    return rho / _cor_factor(r, alpha, s, beta)


def correlation_bounds(r: float, alpha: float, s: float, beta: float) -> tuple[float, float]:
    """The range of ``rho`` for which the Sarmanov density is non-negative.

    Examples
    --------
    >>> lo, hi = correlation_bounds(1.5, 80.0, 0.6, 50.0)  # weekly data: a narrow range
    >>> bool(-0.001 < lo < 0 < hi < 0.02)
    True
    """
    la, la_c = _laplace(r, alpha)
    lb, lb_c = _laplace(s, beta)
    factor = _cor_factor(r, alpha, s, beta)
    return -factor / max(la * lb, la_c * lb_c), factor / max(la * lb_c, la_c * lb)


def _weights(params: PNBDCorParams) -> tuple[FloatArray, float]:
    """Prior weights ``c_j`` of the four components and ``K1 = dK/drho``."""
    r, alpha, s, beta, rho = _scalars(params)
    k1 = (1.0 + alpha) * (1.0 + beta) / np.sqrt(r * s)
    c = _SIGNS * (rho * k1)
    c[0] += 1.0
    return c, float(k1)


def _components(params: PNBDCorParams) -> list[PNBDParams]:
    r, alpha, s, beta, _ = _scalars(params)
    return [PNBDParams(r, alpha + da, s, beta + db) for da, db in _SHIFTS]


def _admissible(params: PNBDCorParams) -> bool:
    r, alpha, s, beta, rho = _scalars(params)
    if not (min(r, alpha, s, beta) > 0 and np.isfinite(rho)):
        return False
    lo, hi = correlation_bounds(r, alpha, s, beta)
    return lo <= rho <= hi


def _combine(params: PNBDCorParams, lls: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``log L``, the posterior weights ``c_j L_j / L`` (4, n) and ``(L00+L11-L10-L01)/L``."""
    c, _ = _weights(params)
    top = np.max(lls, axis=0)
    e = np.exp(lls - top)
    total = np.tensordot(c, e, axes=1)
    valid = total > 0
    safe = np.where(valid, total, 1.0)
    ll = np.where(valid, top + np.log(safe), -np.inf)
    c_col = c.reshape((4,) + (1,) * (e.ndim - 1))
    return ll, c_col * e / safe, (e[0] + e[1] - e[2] - e[3]) / safe


def log_likelihood(
    params: PNBDCorParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    ops: Ops = NUMPY,
) -> Any:
    r"""Per-customer log-likelihood: :math:`\log \sum_j c_j L_{\text{Pareto/NBD}}(\theta_j)`.

    The four Pareto/NBD likelihoods (:math:`\alpha` and :math:`\beta` shifted
    by 0 or 1) are combined in log space; ``-inf`` where ``rho`` is outside
    :func:`correlation_bounds`.

    Examples
    --------
    >>> p = PNBDCorParams(0.553, 10.578, 0.606, 11.669, 0.0)
    >>> q = PNBDParams(0.553, 10.578, 0.606, 11.669)
    >>> bool(log_likelihood(p, 2, 30.43, 38.86) == _pnbd.log_likelihood(q, 2, 30.43, 38.86))
    True
    """
    if ops is not NUMPY:
        raise NotImplementedError("the correlated Pareto/NBD likelihood is NumPy-only.")
    x, t_x, T = np.broadcast_arrays(*_math._floats(frequency, recency, T))
    if not _admissible(params):
        return _out(np.full(x.shape, -np.inf))
    if float(params.rho) == 0.0:
        return _out(_pnbd.log_likelihood(_components(params)[0], x, t_x, T))
    lls = np.stack([_pnbd.log_likelihood(p, x, t_x, T) for p in _components(params)])
    return _out(_combine(params, lls)[0])


def log_likelihood_gradient(
    params: PNBDCorParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and its gradient w.r.t. ``(r, alpha, s, beta, rho)``, (5, n).

    Examples
    --------
    >>> p = PNBDCorParams(1.5, 80.0, 0.6, 50.0, 0.005)
    >>> ll, g = log_likelihood_gradient(p, [0.0, 3.0], [0.0, 10.0], [30.0, 30.0])
    >>> h = 1e-7
    >>> up = log_likelihood(p._replace(rho=0.005 + h), [0.0, 3.0], [0.0, 10.0], [30.0, 30.0])
    >>> down = log_likelihood(p._replace(rho=0.005 - h), [0.0, 3.0], [0.0, 10.0], [30.0, 30.0])
    >>> bool(np.allclose(g[4], (up - down) / (2 * h), rtol=1e-5))
    True
    """
    x, t_x, T = (np.atleast_1d(v).ravel() for v in _math._floats(frequency, recency, T))
    x, t_x, T = np.broadcast_arrays(x, t_x, T)
    r, alpha, s, beta, rho = _scalars(params)
    if not _admissible(params):
        return np.full(x.shape, -np.inf), np.zeros((5, x.size))
    parts = [_math.log_likelihood_gradient(p, x, t_x, T) for p in _components(params)]
    lls = np.stack([ll for ll, _ in parts])
    ll, w, diff = _combine(params, lls)
    grad = np.zeros((5, x.size))
    grad[:4] = np.einsum("jn,jkn->kn", w, np.stack([g for _, g in parts]))
    _, k1 = _weights(params)
    d_k = rho * k1 * np.array([-0.5 / r, 1.0 / (1.0 + alpha), -0.5 / s, 1.0 / (1.0 + beta)])
    grad[:4] += d_k[:, None] * diff
    grad[4] = k1 * diff
    return ll, grad


def _posterior(params: PNBDCorParams, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """Posterior weights of the four components for each customer, shape (4, n)."""
    lls = np.stack([_pnbd.log_likelihood(p, x, t_x, T) for p in _components(params)])
    return _combine(params, lls)[1]


def _mix_posterior(params: PNBDCorParams, fn: Any, x: Any, t_x: Any, T: Any, *before: Any) -> Any:
    """``sum_j w_j fn(theta_j, *before, x, t_x, T)`` with the posterior weights ``w_j``."""
    args = np.broadcast_arrays(*_math._floats(*before, x, t_x, T))
    x_, t_x_, T_ = args[-3:]
    w = _posterior(params, x_, t_x_, T_)
    values = np.stack([fn(p, *args) for p in _components(params)])
    return _out(np.sum(w * values, axis=0))


def _mix_prior(params: PNBDCorParams, fn: Any, *args: Any) -> Any:
    """``sum_j c_j fn(theta_j, *args)`` with the prior weights ``c_j``."""
    c, _ = _weights(params)
    values = np.stack([np.asarray(fn(p, *args), dtype=np.float64) for p in _components(params)])
    return _out(np.tensordot(c, values, axes=1))


def probability_alive(
    params: PNBDCorParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> Any:
    """Probability of being alive at ``T`` given the history (posterior mixture).

    Examples
    --------
    >>> p = PNBDCorParams(0.553, 10.578, 0.606, 11.669, 0.0)
    >>> round(float(probability_alive(p, 2, 30.43, 38.86)), 4)  # the Pareto/NBD value
    0.8692
    """
    return _mix_posterior(params, _pnbd.probability_alive, frequency, recency, T)


def expected_purchases(
    params: PNBDCorParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> Any:
    """Expected repeat purchases in the next ``t`` periods given the history.

    Examples
    --------
    >>> p = PNBDCorParams(0.553, 10.578, 0.606, 11.669, 0.0)
    >>> round(float(expected_purchases(p, 39, 2, 30.43, 38.86)), 4)
    1.4551
    """
    return _mix_posterior(params, _pnbd.expected_purchases, frequency, recency, T, t)


def probability_alive_at(
    params: PNBDCorParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> Any:
    """Probability of still being alive ``t`` periods after ``T`` given the history.

    Examples
    --------
    >>> p = PNBDCorParams(1.5, 80.0, 0.6, 50.0, 0.005)
    >>> bool(abs(probability_alive_at(p, 0.0, 2, 10.0, 30.0)
    ...          - probability_alive(p, 2, 10.0, 30.0)) < 1e-12)
    True
    """
    from clv.models.conditional import pareto_nbd_probability_alive_at

    return _mix_posterior(params, pareto_nbd_probability_alive_at, frequency, recency, T, t)


def conditional_probability_of_purchases(
    params: PNBDCorParams,
    n: ArrayLike,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> Any:
    """Probability of exactly ``n`` purchases in the next ``t`` periods given the history.

    Examples
    --------
    >>> p = PNBDCorParams(1.5, 80.0, 0.6, 50.0, 0.005)
    >>> pmf = conditional_probability_of_purchases(p, np.arange(100), 52.0, 2, 10.0, 30.0)
    >>> round(float(pmf.sum()), 8)
    1.0
    """
    from clv.models.conditional import pareto_nbd_probability_of_purchases

    return _mix_posterior(params, pareto_nbd_probability_of_purchases, frequency, recency, T, n, t)


def expected_purchases_new_customer(params: PNBDCorParams, t: ArrayLike) -> Any:
    """Expected repeat purchases of a new customer in ``(0, t]`` (prior mixture).

    Examples
    --------
    >>> p = PNBDCorParams(0.553, 10.578, 0.606, 11.669, 0.0)
    >>> round(float(expected_purchases_new_customer(p, 39)), 4)
    1.213
    """
    return _mix_prior(params, _pnbd.expected_purchases_new_customer, t)


def probability_of_purchases(params: PNBDCorParams, n: ArrayLike, t: ArrayLike) -> Any:
    """Probability that a new customer makes exactly ``n`` repeat purchases in ``(0, t]``.

    Examples
    --------
    >>> p = PNBDCorParams(1.5, 80.0, 0.6, 50.0, 0.005)
    >>> round(float(probability_of_purchases(p, np.arange(200), 52.0).sum()), 8)
    1.0
    """
    return _mix_prior(params, _pnbd.probability_of_purchases, n, t)


def _draw_rates(
    params: PNBDCorParams, n: int, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """``n`` draws of ``(lambda, mu)`` from the Sarmanov density, by rejection from the marginals.

    The acceptance probability ``(1 + omega phi1 phi2) / M`` uses the bound
    ``M`` of the bracket at the corners of the range of ``(phi1, phi2)``.
    """
    r, alpha, s, beta, _ = _scalars(params)
    w = omega(params)
    la, _ = _laplace(r, alpha)
    lb, _ = _laplace(s, beta)
    corners = [a * b for a in (-la, 1.0 - la) for b in (-lb, 1.0 - lb)]
    bound = 1.0 + max(w * c for c in corners)
    lam_out: list[FloatArray] = []
    mu_out: list[FloatArray] = []
    got = 0
    while got < n:
        m = max(2 * (n - got), 64)
        lam = rng.gamma(r, 1.0 / alpha, size=m)
        mu = rng.gamma(s, 1.0 / beta, size=m)
        accept = rng.random(m) * bound <= 1.0 + w * (np.exp(-lam) - la) * (np.exp(-mu) - lb)
        lam_out.append(lam[accept])
        mu_out.append(mu[accept])
        got += int(accept.sum())
    return np.concatenate(lam_out)[:n], np.concatenate(mu_out)[:n]


def simulate(
    params: PNBDCorParams, T: ArrayLike, *, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """Simulate customers observed for ``T`` periods after their first purchase.

    The rates come from the Sarmanov density (:func:`_draw_rates`); given
    them, purchases and dropout are the Pareto/NBD's.

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T``, latent ``lambda``, ``mu`` and
        ``alive`` (alive at ``T``).

    Examples
    --------
    >>> sim = simulate(PNBDCorParams(1.5, 8.0, 0.6, 5.0, 0.05), np.full(4, 52.0),
    ...                rng=np.random.default_rng(0))
    >>> bool(np.all(sim["recency"] <= sim["T"]))
    True
    """
    if not _admissible(params):
        lo, hi = correlation_bounds(*_scalars(params)[:4])
        raise ValueError(f"rho must lie in [{lo:.6g}, {hi:.6g}] for these r, alpha, s, beta.")
    T = np.asarray(T, dtype=np.float64)
    n = T.shape[0]
    lam, mu = _draw_rates(params, n, rng)
    lifetime = np.divide(rng.standard_exponential(n), mu, out=np.full(n, np.inf), where=mu > 0)
    return observe_purchases(lam, lifetime, T, rng, {"lambda": lam, "mu": mu})


class PNBDCorFitParams(NamedTuple):
    """The parameters the optimiser sees: ``kappa`` in (0, 1) places ``rho`` in its range.

    ``rho = lo + kappa (hi - lo)`` with ``(lo, hi)`` = :func:`correlation_bounds`
    of ``(r, alpha, s, beta)``, so every trial point is an admissible density.
    """

    r: Any
    alpha: Any
    s: Any
    beta: Any
    kappa: Any


def to_rho(params: PNBDCorFitParams) -> PNBDCorParams:
    """The model parameters ``(r, alpha, s, beta, rho)`` of a fitted ``kappa`` parametrisation.

    Examples
    --------
    >>> p = to_rho(PNBDCorFitParams(1.5, 80.0, 0.6, 50.0, 0.0))
    >>> bool(p.rho == correlation_bounds(1.5, 80.0, 0.6, 50.0)[0])
    True
    """
    r, alpha, s, beta, kappa = (float(v) for v in params)
    lo, hi = correlation_bounds(r, alpha, s, beta)
    return PNBDCorParams(r, alpha, s, beta, lo + kappa * (hi - lo))


def to_kappa(params: PNBDCorParams) -> PNBDCorFitParams:
    """Inverse of :func:`to_rho` (``rho`` must lie inside its range)."""
    r, alpha, s, beta, rho = _scalars(params)
    lo, hi = correlation_bounds(r, alpha, s, beta)
    return PNBDCorFitParams(r, alpha, s, beta, (rho - lo) / (hi - lo))


def _fit_gradient(
    params: PNBDCorFitParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """:func:`log_likelihood_gradient` in the ``kappa`` parametrisation (chain rule).

    ``d rho / d theta`` of the scalar map :func:`to_rho` by central differences.
    """
    theta = np.array([float(v) for v in params])
    ll, g = log_likelihood_gradient(to_rho(params), frequency, recency, T)
    out = g.copy()
    lo, hi = correlation_bounds(*theta[:4])
    out[4] = g[4] * (hi - lo)
    for k in range(4):
        h = 1e-6 * theta[k]
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        d_rho = (to_rho(PNBDCorFitParams(*up)).rho - to_rho(PNBDCorFitParams(*down)).rho) / (2 * h)
        out[k] = g[k] + g[4] * d_rho
    return ll, out


def _via_rho(fn: Any) -> Any:
    """``fn`` (of ``PNBDCorParams``) called with fitted ``PNBDCorFitParams``."""

    def wrapped(params: PNBDCorFitParams, *args: Any, **kwargs: Any) -> Any:
        return fn(to_rho(params), *args, **kwargs)

    wrapped.__doc__ = fn.__doc__
    wrapped.__name__ = fn.__name__
    return wrapped


def _initial(frequency: FloatArray, recency: FloatArray, T: FloatArray) -> PNBDCorFitParams:
    """The Pareto/NBD's starting values (on the unscaled data), ``rho`` at 0."""
    rate = max(float(np.mean(frequency) / np.mean(T)), 1e-3)
    base = (0.5, 0.5 / rate, 0.5, 0.5 * float(np.max(T)))
    return to_kappa(PNBDCorParams(*base, 0.0))


SPEC = ModelSpec(
    name="Pareto/NBD (correlated)",
    params=PNBDCorFitParams,
    start=to_kappa(PNBDCorParams(r=1.0, alpha=10.0, s=1.0, beta=10.0, rho=0.0)),
    columns=("frequency", "recency", "T"),
    log_likelihood=_via_rho(log_likelihood),
    gradient=_fit_gradient,
    initial=_initial,
    transforms=("log", "log", "log", "log", "logit"),
    probability_alive=_via_rho(probability_alive),
    expected_purchases=_via_rho(expected_purchases),
    expected_purchases_new_customer=_via_rho(expected_purchases_new_customer),
    probability_of_purchases=_via_rho(probability_of_purchases),
    simulate=_via_rho(simulate),
)


class ParetoNBDCorrelatedModel(TransactionModel):
    r"""Pareto/NBD with correlated purchase and dropout rates, fitted by maximum likelihood.

    As :class:`~clv.models.ParetoNBDModel`, but :math:`\lambda` and
    :math:`\mu` are joined by a Sarmanov density with correlation ``rho``
    ([GLC2015]_; CLVTools' ``pnbd(use.cor = TRUE)``); ``rho = 0`` is the
    Pareto/NBD.  ``rho`` can only take values in :func:`correlation_bounds`,
    which depend on the time unit of the data (weekly data: a narrow range).

    The optimiser works with ``kappa`` in (0, 1), the position of ``rho`` in
    its admissible range (``params_``, ``summary()``);
    :attr:`correlation_` is ``rho`` itself.  When the data want a correlation
    beyond the range the estimate is its edge (``kappa`` within 1e-6 of 0 or
    1; on CDNOW and the apparel data it is the upper edge), and the Hessian
    may not be positive definite there (a ``ConvergenceWarning``, NaN
    standard errors).

    Required columns: ``frequency``, ``recency``, ``T`` (periods), optional
    ``weight``. Time is not rescaled; no covariates.
    """

    spec = SPEC

    @property
    def correlation_(self) -> float:
        """The fitted correlation ``rho`` of the purchase and dropout rates."""
        return float(to_rho(self._p).rho)

    @property
    def model_params_(self) -> PNBDCorParams:
        """The fitted ``(r, alpha, s, beta, rho)``, the parameters of the pure functions."""
        return to_rho(self._p)
