r"""GGompertz/NBD model of repeat purchasing (Bemmaor & Glady 2012).

Pure functions first (no pandas, no state); :class:`GGompertzNBDModel` binds
fitted parameters to them.

Assumptions: while alive, a customer buys as a Poisson process with rate
:math:`\lambda \sim \mathrm{Gamma}(r, \alpha)`; their lifetime is Gompertz,
:math:`S(t \mid \eta) = e^{-\eta (e^{bt} - 1)}`, with
:math:`\eta \sim \mathrm{Gamma}(s, \beta)` across customers and :math:`b`
common. Across customers

.. math:: S(t) = \Bigl(\frac{\beta}{\beta + e^{bt} - 1}\Bigr)^{s},

so :math:`b > 0` lets the dropout hazard grow with age (:math:`b \to 0` with
:math:`\beta/b` fixed is the Pareto/NBD with dropout :math:`\mathrm{Gamma}(s, \beta/b)`).
The likelihood has one integral over the unobserved time of death, evaluated
by Gauss-Legendre quadrature in log space.

References
----------
.. [BG2012] Bemmaor, A. C., & Glady, N. (2012). Modeling purchasing behavior
   with sudden "death": A flexible customer lifetime model. Management
   Science, 58(5), 1012-1021.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from clv._ops import NUMPY
from clv._special import log_integrate_unimodal
from clv._typing import FloatArray, Ops
from clv.exceptions import ConvergenceError
from clv.models._output import float_arrays as _floats
from clv.models._output import float_output as _out
from clv.models._simulation import observe_purchases
from clv.models._spec import rfm_spec
from clv.models._transaction import TransactionModel

__all__ = [
    "GGNBDParams",
    "GGompertzNBDModel",
    "expected_purchases",
    "expected_purchases_new_customer",
    "log_likelihood",
    "log_likelihood_gradient",
    "log_survival",
    "probability_alive",
    "probability_alive_at",
    "probability_of_purchases",
    "simulate",
]

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(64)
_U = 0.5 * (_NODES + 1.0)  # nodes on (0, 1)
_LOG_W = np.log(0.5 * _WEIGHTS)


class GGNBDParams(NamedTuple):
    """GGompertz/NBD parameters: rate Gamma(r, alpha), Gompertz scale b, eta ~ Gamma(s, beta)."""

    r: Any
    alpha: Any
    b: Any
    s: Any
    beta: Any


def _nodes(ndim: int) -> tuple[FloatArray, FloatArray]:
    """Quadrature nodes on (0, 1) and log weights, shaped to broadcast over ``ndim`` axes."""
    shape = (-1,) + (1,) * ndim
    return _U.reshape(shape), _LOG_W.reshape(shape)


def _log_beta_expm1(beta: FloatArray, bt: FloatArray) -> FloatArray:
    """``log(beta + e^{bt} - 1)`` without overflow (``bt >= 0``)."""
    big = bt > 30.0
    small = np.log(beta + np.expm1(np.where(big, 0.0, bt)))
    large = bt + np.log1p((beta - 1.0) * np.exp(-np.where(big, bt, 30.0)))
    return np.where(big, large, small)


def log_survival(params: GGNBDParams, t: ArrayLike) -> Any:
    r"""Log of the population survival :math:`S(t) = (\beta/(\beta + e^{bt} - 1))^s`.

    Examples
    --------
    >>> p = GGNBDParams(r=0.5, alpha=5.0, b=0.05, s=1.5, beta=3.0)
    >>> round(float(np.exp(log_survival(p, 10.0))), 6)  # (3 / (3 + e^0.5 - 1))^1.5
    0.74554
    """
    _, _, b, s, beta = _floats(*params)
    (t,) = _floats(t)
    return _out(s * (np.log(beta) - _log_beta_expm1(beta, b * t)))


def _log_density(b: FloatArray, s: FloatArray, beta: FloatArray, tau: FloatArray) -> FloatArray:
    """Log density of the lifetime, :math:`-dS/d\\tau`."""
    return (
        np.log(s)
        + np.log(b)
        + s * np.log(beta)
        + b * tau
        - (s + 1.0) * _log_beta_expm1(beta, b * tau)
    )


def _logsumexp0(a: FloatArray) -> FloatArray:
    top = np.max(a, axis=0)
    safe = np.where(np.isfinite(top), top, 0.0)
    return safe + np.log(np.sum(np.exp(a - safe), axis=0))


def _dlog_density(b: FloatArray, s: FloatArray, beta: FloatArray, tau: FloatArray) -> FloatArray:
    """Derivative of :func:`_log_density` with respect to ``tau``."""
    share = np.exp(b * tau - _log_beta_expm1(beta, b * tau))  # e^{b tau} / (beta + e^{b tau} - 1)
    return b - (s + 1.0) * b * share


def _log_dead(
    params: GGNBDParams, x: FloatArray, t_x: FloatArray, T: FloatArray, *, gradient: bool = False
) -> Any:
    r"""Log of :math:`\int_{t_x}^{T} (\alpha+\tau)^{-(r+x)} f(\tau)\, d\tau` (death after t_x).

    Over :math:`v = \log(\alpha+\tau)` the log-integrand is
    :math:`\phi(v) = -(r+x-1) v + \log f(e^v - \alpha)`; it is integrated with
    :func:`clv._special.log_integrate_unimodal` (Gauss-Legendre panels sized to the
    slope of :math:`\phi`, accurate to about 1e-12 however steep), from the
    maximum of :math:`\phi` on a 33-point grid. With ``gradient=True`` it also
    returns the derivatives w.r.t. ``(r, alpha, b, s, beta)``: the averages of
    :math:`\partial\phi/\partial\theta` under the normalised integrand, shape ``(5, n)``.
    """
    r, alpha, b, s, beta = _floats(*params)
    x, t_x, T, r, alpha, b, s, beta = np.broadcast_arrays(x, t_x, T, r, alpha, b, s, beta)
    shape = x.shape
    x, t_x, T, r, alpha, b, s, beta = (
        np.ascontiguousarray(v).ravel() for v in (x, t_x, T, r, alpha, b, s, beta)
    )
    out = np.full(x.shape, -np.inf)
    grad = np.zeros((5, x.size))
    rows = np.flatnonzero(t_x < T)
    if rows.size == 0:
        return (out.reshape(shape), grad) if gradient else out.reshape(shape)
    c = (r + x - 1.0)[rows]
    al, bb, ss, be = alpha[rows], b[rows], s[rows], beta[rows]
    v0, v1 = np.log(al + t_x[rows]), np.log(al + T[rows])

    def tau_of(v: FloatArray, k: np.ndarray) -> FloatArray:
        return np.maximum(np.exp(v) - al[k], 0.0)

    def phi(v: FloatArray, k: np.ndarray) -> FloatArray:
        return -c[k] * v + _log_density(bb[k], ss[k], be[k], tau_of(v, k))

    def dphi(v: FloatArray, k: np.ndarray) -> FloatArray:
        return -c[k] + _dlog_density(bb[k], ss[k], be[k], tau_of(v, k)) * np.exp(v)

    moments = []
    if gradient:

        def d_r(v: FloatArray, k: np.ndarray) -> FloatArray:
            return -v

        def d_alpha(v: FloatArray, k: np.ndarray) -> FloatArray:  # of (alpha+tau)^-(r+x), in tau
            return -(c[k] + 1.0) * np.exp(-v)

        def d_b(v: FloatArray, k: np.ndarray) -> FloatArray:
            tau = tau_of(v, k)
            share = np.exp(bb[k] * tau - _log_beta_expm1(be[k], bb[k] * tau))
            return 1.0 / bb[k] + tau - (ss[k] + 1.0) * tau * share

        def d_s(v: FloatArray, k: np.ndarray) -> FloatArray:
            tau = tau_of(v, k)
            return 1.0 / ss[k] + np.log(be[k]) - _log_beta_expm1(be[k], bb[k] * tau)

        def d_beta(v: FloatArray, k: np.ndarray) -> FloatArray:
            tau = tau_of(v, k)
            return ss[k] / be[k] - (ss[k] + 1.0) * np.exp(-_log_beta_expm1(be[k], bb[k] * tau))

        moments = [d_r, d_alpha, d_b, d_s, d_beta]
    k_all = np.arange(rows.size)
    grid = v0 + (v1 - v0) * np.linspace(0.0, 1.0, 33)[:, None]
    mode = grid[np.argmax(phi(grid, k_all), axis=0), k_all]
    value, averages = log_integrate_unimodal(phi, dphi, v0, v1, mode, moments)
    out[rows] = value
    if not gradient:
        return out.reshape(shape)
    grad[:, rows] = averages
    return out.reshape(shape), grad


def log_likelihood_gradient(
    params: GGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and its gradient w.r.t. ``(r, alpha, b, s, beta)``, shape (5, n).

    Examples
    --------
    >>> p = GGNBDParams(0.5, 5.0, 0.05, 1.5, 3.0)
    >>> ll, g = log_likelihood_gradient(p, [0.0, 3.0], [0.0, 10.0], [30.0, 30.0])
    >>> h = 1e-6
    >>> up = log_likelihood(p._replace(b=0.05 + h), [0.0, 3.0], [0.0, 10.0], [30.0, 30.0])
    >>> down = log_likelihood(p._replace(b=0.05 - h), [0.0, 3.0], [0.0, 10.0], [30.0, 30.0])
    >>> bool(np.allclose(g[2], (up - down) / (2 * h), rtol=1e-5))
    True
    """
    r, alpha, b, s, beta = (float(v) for v in params)
    x, t_x, T = (np.atleast_1d(v).astype(np.float64) for v in _floats(frequency, recency, T))
    x, t_x, T = np.broadcast_arrays(x, t_x, T)
    head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    L_T = _log_beta_expm1(np.full_like(T, beta), b * T)
    alive = -(r + x) * np.log(alpha + T) + s * (np.log(beta) - L_T)
    dead, d_dead = _log_dead(params, x, t_x, T, gradient=True)
    total = np.logaddexp(alive, dead)
    w_alive = np.exp(alive - total)
    w_dead = 1.0 - w_alive
    share_T = np.exp(b * T - L_T)
    d_alive = np.stack(
        [
            -np.log(alpha + T),
            -(r + x) / (alpha + T),
            -s * T * share_T,
            np.log(beta) - L_T,
            s * (1.0 / beta - np.exp(-L_T)),
        ]
    )
    d_head = np.zeros((5, x.size))
    d_head[0] = special.digamma(r + x) - special.digamma(r) + np.log(alpha)
    d_head[1] = r / alpha
    grad = d_head + w_alive * d_alive + np.where(np.isfinite(dead), w_dead, 0.0) * d_dead
    return head + total, grad


def _pieces(
    params: GGNBDParams, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r, alpha, b, s, beta = _floats(*params)
    head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    alive = -(r + x) * np.log(alpha + T) + s * (np.log(beta) - _log_beta_expm1(beta, b * T))
    return head, alive, _log_dead(params, x, t_x, T)


def log_likelihood(
    params: GGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, ops: Ops = NUMPY
) -> Any:
    r"""Per-customer log-likelihood ([BG2012]_, eq. 7), NumPy only.

    .. math::
       L = \frac{\Gamma(r+x)\alpha^r}{\Gamma(r)}\Bigl[\frac{S(T)}{(\alpha+T)^{r+x}}
       + \int_{t_x}^{T} \frac{f(\tau)}{(\alpha+\tau)^{r+x}}\,d\tau\Bigr]

    Examples
    --------
    >>> p = GGNBDParams(r=0.553, alpha=10.578, b=1e-7, s=0.606, beta=11.669e-7)
    >>> from clv.models import pareto_nbd
    >>> q = pareto_nbd.PNBDParams(0.553, 10.578, 0.606, 11.669)
    >>> bool(abs(log_likelihood(p, 2, 30.43, 38.86) - pareto_nbd.log_likelihood(q, 2, 30.43, 38.86))
    ...      < 1e-5)
    True
    """
    if ops is not NUMPY:
        raise NotImplementedError("the GGompertz/NBD likelihood is NumPy-only (quadrature).")
    x, t_x, T = _floats(frequency, recency, T)
    head, alive, dead = _pieces(params, x, t_x, T)
    return _out(head + np.logaddexp(alive, dead))


def probability_alive(
    params: GGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> Any:
    """Probability of being alive at ``T`` given the history (the likelihood's first term).

    Examples
    --------
    >>> p = GGNBDParams(r=0.5, alpha=5.0, b=0.05, s=1.5, beta=3.0)
    >>> float(probability_alive(p, 0, 0.0, 1e-9)) > 0.999999
    True
    """
    x, t_x, T = _floats(frequency, recency, T)
    _, alive, dead = _pieces(params, x, t_x, T)
    return _out(np.exp(alive - np.logaddexp(alive, dead)))


def expected_purchases(
    params: GGNBDParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> Any:
    r"""Expected purchases in ``(T, T + t]`` given the history.

    Alive at ``T``: :math:`\lambda \sim \Gamma(r+x, \alpha+T)` and
    :math:`\eta \sim \Gamma(s, \beta')` with :math:`\beta' = \beta + e^{bT} - 1`, so

    .. math:: E = P(\text{alive}) \frac{r+x}{\alpha+T} \int_0^t
              \Bigl(\frac{\beta'}{\beta' + e^{bT}(e^{bu} - 1)}\Bigr)^s du

    (64-point Gauss-Legendre).

    Examples
    --------
    >>> p = GGNBDParams(r=0.5, alpha=5.0, b=1e-9, s=1.5, beta=3e-9)
    >>> round(float(expected_purchases(p, 10.0, 0, 0.0, 0.0)), 6)  # Pareto/NBD limit
    0.311769
    """
    r, alpha, b, s, beta = _floats(*params)
    t, x, t_x, T = np.broadcast_arrays(*_floats(t, frequency, recency, T))
    p_alive = probability_alive(params, x, t_x, T)
    log_bp = _log_beta_expm1(beta, b * T)  # log beta'
    u_k, log_w = _nodes(np.broadcast(t, b, s).ndim)
    u = t * u_k
    log_ratio = b * T + np.log(np.expm1(b * u) + (u == 0)) - log_bp
    integrand = np.exp(-s * np.logaddexp(0.0, np.where(u > 0, log_ratio, -np.inf)))
    integral = t * np.sum(np.exp(log_w) * integrand, axis=0)
    return _out(np.where(t > 0, p_alive * (r + x) / (alpha + T) * integral, 0.0))


def probability_alive_at(
    params: GGNBDParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> Any:
    r"""Probability of still being alive at ``T + t``.

    .. math:: P(\text{alive at } T+t) = P(\text{alive at } T)
              \Bigl(\frac{\beta'}{\beta' + e^{bT}(e^{bt} - 1)}\Bigr)^s,
              \quad \beta' = \beta + e^{bT} - 1

    Examples
    --------
    >>> p = GGNBDParams(r=0.5, alpha=5.0, b=0.05, s=1.5, beta=3.0)
    >>> bool(probability_alive_at(p, 0.0, 2, 10.0, 30.0) == probability_alive(p, 2, 10.0, 30.0))
    True
    """
    _, _, b, s, beta = _floats(*params)
    t, x, t_x, T = np.broadcast_arrays(*_floats(t, frequency, recency, T))
    log_bp = _log_beta_expm1(beta, b * T)
    log_ratio = b * T + np.log(np.expm1(b * t) + (t == 0)) - log_bp
    keep = np.exp(-s * np.logaddexp(0.0, np.where(t > 0, log_ratio, -np.inf)))
    return _out(probability_alive(params, x, t_x, T) * keep)


def expected_purchases_new_customer(params: GGNBDParams, t: ArrayLike) -> Any:
    r"""Expected repeat purchases of a new customer in ``(0, t]``: :math:`(r/\alpha)\int_0^t S`.

    Examples
    --------
    >>> p = GGNBDParams(r=0.5, alpha=5.0, b=0.05, s=1.5, beta=3.0)
    >>> bool(expected_purchases_new_customer(p, 10.0) < 0.5 / 5.0 * 10.0)
    True
    """
    return expected_purchases(params, t, 0.0, 0.0, 0.0)


def probability_of_purchases(params: GGNBDParams, n: ArrayLike, t: ArrayLike) -> Any:
    r"""Probability that a new customer makes exactly ``n`` repeat purchases in ``(0, t]``.

    .. math:: P(X(t)=n) = \mathrm{NB}(n; r, \tfrac{\alpha}{\alpha+t}) S(t)
              + \int_0^t \mathrm{NB}(n; r, \tfrac{\alpha}{\alpha+\tau}) f(\tau)\, d\tau

    with :math:`\mathrm{NB}(n; r, q) = \frac{\Gamma(r+n)}{\Gamma(r) n!} q^r (1-q)^n`
    (64-point Gauss-Legendre in :math:`\tau`).

    Examples
    --------
    >>> p = GGNBDParams(r=0.5, alpha=5.0, b=0.05, s=1.5, beta=3.0)
    >>> round(float(probability_of_purchases(p, np.arange(300), 20.0).sum()), 8)
    1.0
    """
    r, alpha, b, s, beta = _floats(*params)
    n, t = np.broadcast_arrays(*_floats(n, t))

    def log_nb(tau: FloatArray) -> FloatArray:
        return (
            special.gammaln(r + n)
            - special.gammaln(r)
            - special.gammaln(n + 1.0)
            + r * (np.log(alpha) - np.log(alpha + tau))
            + n * (np.log(np.where(tau > 0, tau, 1.0)) - np.log(alpha + tau))
            + np.where((tau > 0) | (n == 0), 0.0, -np.inf)
        )

    alive = log_nb(t) + s * (np.log(beta) - _log_beta_expm1(beta, b * t))
    u_k, log_w = _nodes(np.broadcast(n, t, r).ndim)
    tau = t * u_k
    dead = _logsumexp0(
        log_w + np.log(np.where(t > 0, t, 1.0)) + log_nb(tau) + _log_density(b, s, beta, tau)
    )
    dead = np.where(t > 0, dead, -np.inf)
    return _out(np.exp(np.logaddexp(alive, dead)))


def simulate(
    params: GGNBDParams, T: ArrayLike, *, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """Simulate GGompertz/NBD customers observed for ``T`` periods after their first purchase.

    The lifetime given :math:`\\eta` is :math:`\\log(1 + E/\\eta)/b` with
    :math:`E \\sim \\mathrm{Exp}(1)` (inverting the Gompertz survival).

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T``, latent ``lambda``, ``eta``,
        ``lifetime`` and ``alive`` (alive at ``T``).

    Examples
    --------
    >>> sim = simulate(GGNBDParams(0.5, 5.0, 0.05, 1.5, 3.0), np.full(4, 52.0),
    ...                rng=np.random.default_rng(0))
    >>> bool(np.all(sim["recency"] <= sim["T"]))
    True
    """
    r, alpha, b, s, beta = (float(v) for v in params)
    T = np.asarray(T, dtype=np.float64)
    n = T.shape[0]
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    eta = rng.gamma(s, 1.0 / beta, size=n)
    with np.errstate(divide="ignore"):  # eta underflowing to 0 lives forever
        lifetime = np.log1p(rng.standard_exponential(n) / eta) / b
    latent = {"lambda": lam, "eta": eta, "lifetime": lifetime}
    return observe_purchases(lam, lifetime, T, rng, latent)


def _initial(frequency: FloatArray, recency: FloatArray, T: FloatArray) -> GGNBDParams:
    """Shapes 0.5, the rate scale from the mean purchase rate, a mild Gompertz scale."""
    rate = max(float(np.mean(frequency) / np.mean(T)), 1e-3)
    return GGNBDParams(r=0.5, alpha=0.5 / rate, b=1.0 / float(np.max(T)), s=0.5, beta=1.0)


SPEC = rfm_spec(
    "GGompertz/NBD",
    GGNBDParams,
    GGNBDParams(r=0.5, alpha=1.0, b=0.1, s=0.5, beta=1.0),
    globals(),
)


class GGompertzNBDModel(TransactionModel):
    """GGompertz/NBD model of repeat purchasing, fitted by maximum likelihood ([BG2012]_).

    Like the Pareto/NBD, but each customer's lifetime is Gompertz with a
    dropout hazard :math:`\\eta b e^{bt}` that grows with age (:math:`b > 0`);
    :math:`\\eta \\sim \\mathrm{Gamma}(s, \\beta)`. Where the data show no
    ageing the estimate of :math:`b` goes to 0 and the model becomes the
    Pareto/NBD (on CDNOW: the same log-likelihood, -9594.98, as CLVTools'
    ``ggomnbd`` finds); when the estimate of :math:`b` runs to 0, :meth:`fit`
    raises a :class:`~clv.exceptions.ConvergenceError` that says so: the fit
    of the Pareto/NBD (:class:`~clv.models.ParetoNBDModel`) is then the answer.

    Required columns: ``frequency``, ``recency``, ``T`` (periods), optional
    ``weight``. Time is not rescaled (``b`` is per period); no covariates.
    """

    spec = SPEC

    def _explain_failure(self, exc: ConvergenceError) -> ConvergenceError | None:
        if "['b']" in str(exc) or "'b'" in str(exc):
            return ConvergenceError(
                "GGompertz/NBD: the Gompertz scale b runs to 0 on these data (no ageing "
                "of the dropout hazard), where the model becomes the Pareto/NBD with "
                "dropout Gamma(s, beta/b); fit clv.models.ParetoNBDModel instead (it is "
                "the limit and has the same likelihood)."
            )
        return None
