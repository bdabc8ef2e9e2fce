r"""Pareto/NBD with piecewise-constant time-varying covariates: the pure mathematics.

The model of Bachmann, Meierer & Näf (2021) ([BMN2021]_), also called the
extended Pareto/NBD: while alive, customer :math:`i` buys at rate
:math:`\lambda_i(t) = \lambda_{0i}\, e^{\gamma_p^\top x_p(t)}` and drops out
at rate :math:`\mu_i(t) = \mu_{0i}\, e^{\gamma_d^\top x_d(t)}`, with
:math:`\lambda_0 \sim \mathrm{Gamma}(r, \alpha)` and
:math:`\mu_0 \sim \mathrm{Gamma}(s, \beta)` independent across customers.
The covariates are constant within calendar periods of unit length (one
period of the data's time unit).  Time :math:`t` is the customer's age,
measured from the first purchase, as in the static model.

With the cumulative multipliers :math:`B(t) = \int_0^t e^{\gamma_p^\top
x_p(u)}du` and :math:`D(t) = \int_0^t e^{\gamma_d^\top x_d(u)}du`
(piecewise linear), :math:`x` repeat purchases at :math:`t_1 < \dots < t_x`
and age :math:`T`, integrating :math:`\lambda_0, \mu_0` out gives

.. math::

   L = \frac{\Gamma(r+x)\alpha^r\beta^s}{\Gamma(r)}\,
       e^{\sum_j \gamma_p^\top x_p(t_j)}\Bigl[
       \frac{1}{(\alpha+B(T))^{r+x}(\beta+D(T))^s}
       + s\int_{t_x}^{T}\frac{e^{\gamma_d^\top x_d(\tau)}\, d\tau}
         {(\alpha+B(\tau))^{r+x}(\beta+D(\tau))^{s+1}}\Bigr].

On a period :math:`k` of :math:`(t_x, T]` with multipliers :math:`A_k, C_k`
the integral has the static model's closed form: with
:math:`u = \alpha + B(\tau)` and :math:`v = (\beta + D(\tau)) A_k/C_k` (so
:math:`v - u` is constant on the period),

.. math::

   \int_{\text{period }k} = \Bigl(\frac{A_k}{C_k}\Bigr)^{s}\,
   \frac{G(u_{k,0}, v_{k,0}) - G(u_{k,1}, v_{k,1})}{r+s+x},
   \qquad G(u, v) = (r+s+x)\int_0^\infty \frac{dw}{(u+w)^{r+x}(v+w)^{s+1}},

where :math:`G` is the tail function of the static likelihood
(:mod:`clv.models._pareto_nbd_math`) with :math:`t = 0`: a
:math:`{}_2F_1(1, \cdot\,; r+s+x+1; |u-v|/\max(u,v))`.  All sums and
differences are taken in log space.  This is the likelihood of CLVTools'
``pnbd()`` with dynamic covariates (its "walks" are the period sums
:math:`B, D`); with all coefficients 0 it is the static Pareto/NBD.

Data layout (:class:`DynCovArrays`): per customer the covariate periods that
overlap the history :math:`(0, t_x]` (``hist_*``, exposure per period) and
those that overlap :math:`(t_x, T]` (``post_*``), padded to rectangular
arrays with zero exposure, plus the sum of purchase covariates at the repeat
purchases.

References
----------
.. [BMN2021] Bachmann, P., Meierer, M., & Näf, J. (2021). The role of
   time-varying contextual factors in latent attrition models for customer
   base analysis. Marketing Science, 40(4), 783-809.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from scipy import special

from clv._ops import NUMPY
from clv._special import log1mexp, log_hyp2f1_1bc
from clv._typing import FloatArray, Ops

__all__ = [
    "DynCovArrays",
    "FutureArrays",
    "expected_discounted_purchases",
    "expected_purchases",
    "expected_purchases_by_period",
    "log_likelihood",
    "log_likelihood_gradient",
    "probability_alive",
    "state_at_T",
]


@dataclass(frozen=True)
class DynCovArrays:
    """Compact per-customer arrays the likelihood uses (``n`` customers).

    Attributes
    ----------
    frequency, recency, T : ndarray, shape (n,)
        :math:`x`, :math:`t_x`, :math:`T` in periods of the customer's age.
    hist_length : ndarray, shape (n, K)
        Exposure of each covariate period within :math:`(0, t_x]` (0 = padding).
    hist_purchase, hist_dropout : ndarray, shape (n, K, k_p) and (n, K, k_d)
        Covariates of those periods.
    post_length : ndarray, shape (n, J)
        Exposure of each covariate period within :math:`(t_x, T]`, in time order.
    post_purchase, post_dropout : ndarray, shape (n, J, k_p) and (n, J, k_d)
        Covariates of those periods.
    purchase_sum : ndarray, shape (n, k_p)
        Sum of the purchase covariates in force at the repeat purchases.
    """

    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    hist_length: FloatArray
    hist_purchase: FloatArray
    hist_dropout: FloatArray
    post_length: FloatArray
    post_purchase: FloatArray
    post_dropout: FloatArray
    purchase_sum: FloatArray

    @property
    def n_customers(self) -> int:
        """Number of customers."""
        return int(self.frequency.shape[0])

    def subset(self, rows: Any) -> DynCovArrays:
        """The same arrays for a subset of customers (index or boolean mask)."""
        return DynCovArrays(**{k: getattr(self, k)[rows] for k in self.__dataclass_fields__})


@dataclass(frozen=True)
class FutureArrays:
    """Covariates after :math:`T`: period ``0`` is the rest of the period containing ``T``.

    Attributes
    ----------
    length : ndarray, shape (n, H)
        Length of each future period (the first one may be partial).
    purchase, dropout : ndarray, shape (n, H, k_p) and (n, H, k_d)
        Covariates in force in each future period.
    """

    length: FloatArray
    purchase: FloatArray
    dropout: FloatArray


def linear_predictor(X: Any, gamma: Any) -> Any:
    """:math:`X\\gamma` over the last axis of ``X`` (a plain sum, so PyTensor works too)."""
    out = X[..., 0] * gamma[0]
    for j in range(1, X.shape[-1]):
        out = out + X[..., j] * gamma[j]
    return out


def _eta(X: FloatArray, gamma: Any) -> Any:
    if X.shape[-1] == 0:
        return np.zeros(X.shape[:-1])
    return linear_predictor(X, gamma)


def cumulative_at_T(
    gamma_p: Any, gamma_d: Any, data: DynCovArrays, *, ops: Ops = NUMPY
) -> tuple[Any, ...]:
    """Return ``(eta_p, eta_d, B_tx, D_tx, B_T, D_T)``: log multipliers of the post periods and
    the cumulative multipliers :math:`B, D` at :math:`t_x` and :math:`T`."""
    hist_p = ops.exp(_eta(data.hist_purchase, gamma_p))
    hist_d = ops.exp(_eta(data.hist_dropout, gamma_d))
    B_tx = ops.sum(data.hist_length * hist_p, axis=1)
    D_tx = ops.sum(data.hist_length * hist_d, axis=1)
    eta_p = _eta(data.post_purchase, gamma_p)
    eta_d = _eta(data.post_dropout, gamma_d)
    B_T = B_tx + ops.sum(data.post_length * ops.exp(eta_p), axis=1)
    D_T = D_tx + ops.sum(data.post_length * ops.exp(eta_d), axis=1)
    return eta_p, eta_d, B_tx, D_tx, B_T, D_T


def _log_tail(u: Any, v: Any, p: Any, s: Any, ops: Ops) -> Any:
    """:math:`\\log G(u, v)`, the static tail function at ``t = 0`` (Euler-transformed 2F1)."""
    m = p + s
    family_a = u >= v
    b_hyp = ops.where(family_a, p, s + 1.0)
    gap = ops.maximum(u - v, v - u)
    big = ops.maximum(u, v)
    lu = ops.log(u)
    lv = ops.log(v)
    h = ops.log_hyp2f1(1.0, b_hyp, m + 1.0, gap / big)
    return -p * lu - s * lv + ops.where(family_a, 0.0, lu - lv) + h


def _log_segments(
    alpha: Any,
    beta: Any,
    s: Any,
    B0: Any,
    D0: Any,
    dB: Any,
    eta_p: Any,
    eta_d: Any,
    p: Any,
    ops: Ops,
) -> Any:
    """Log of :math:`(r+s+x)` times the dropout integral over each post period."""
    u0 = alpha + B0
    v0 = (beta + D0) * ops.exp(eta_p - eta_d)
    return s * (eta_p - eta_d) + ops.logsubexp(
        _log_tail(u0, v0, p, s, ops), _log_tail(u0 + dB, v0 + dB, p, s, ops)
    )


def likelihood_terms(
    params: Any, gamma_p: Any, gamma_d: Any, data: DynCovArrays, *, ops: Ops = NUMPY
) -> tuple[Any, Any, Any]:
    """Return ``(c0, alive, dead)`` with ``log L = c0 + logaddexp(alive, dead)``.

    ``exp(alive)`` is the still-alive-at-:math:`T` term, ``exp(dead)`` the
    died-in-:math:`(t_x, T]` term of the bracket in the module docstring.
    """
    r, alpha, s, beta = params
    x = data.frequency
    p = r + x
    m = p + s
    eta_p, eta_d, B_tx, D_tx, B_T, D_T = cumulative_at_T(gamma_p, gamma_d, data, ops=ops)
    A = ops.exp(eta_p)
    C = ops.exp(eta_d)
    dB = data.post_length * A
    dD = data.post_length * C
    # B and D at the start of each post period (exclusive cumulative sums)
    B0 = B_tx[:, None] + ops.cumsum(dB, axis=1) - dB
    D0 = D_tx[:, None] + ops.cumsum(dD, axis=1) - dD
    p2 = p[:, None] + 0.0 * data.post_length
    valid = data.post_length > 0
    if ops is NUMPY:  # evaluate the periods that exist only (the arrays are padded)
        seg = np.full(valid.shape, -np.inf)
        ev = eta_p[valid] - eta_d[valid]
        seg[valid] = (
            s * ev
            + _segments_numpy(
                alpha + B0[valid], (beta + D0[valid]) * np.exp(ev), dB[valid], p2[valid], s, 0
            )[0]
        )
        lse = ops.logsumexp(seg, axis=1)
    else:  # symbolic: customers without a period after t_x get a finite dummy entry, so
        # that the gradient of logsumexp stays finite, and their dead term is set to -inf
        has_any = valid.any(axis=1)
        dummy = np.zeros(valid.shape, dtype=bool)
        dummy[~has_any, 0] = True
        seg = ops.where(
            valid,
            _log_segments(alpha, beta, s, B0, D0, dB, eta_p, eta_d, p2, ops),
            np.where(dummy, 0.0, -np.inf),
        )
        lse = ops.where(has_any, ops.logsumexp(seg, axis=1), -np.inf)
    dead = ops.log(s) - ops.log(m) + lse
    alive = -p * ops.log(alpha + B_T) - s * ops.log(beta + D_T)
    c0 = (
        ops.gammaln(p)
        - ops.gammaln(r)
        + r * ops.log(alpha)
        + s * ops.log(beta)
        + _eta(data.purchase_sum, gamma_p)
    )
    return c0, alive, dead


def log_likelihood(
    params: Any, gamma_p: Any, gamma_d: Any, data: DynCovArrays, *, ops: Ops = NUMPY
) -> Any:
    """Per-customer log-likelihood (module docstring), shape ``(n,)``.

    Parameters
    ----------
    params : sequence
        ``(r, alpha, s, beta)``, scalars.
    gamma_p, gamma_d : array_like
        Purchase and dropout coefficients (lengths ``k_p``, ``k_d``).
    data : DynCovArrays
    ops : namespace
        ``clv._ops.NUMPY`` or the PyTensor namespace of ``clv.bayes``.
    """
    c0, alive, dead = likelihood_terms(params, gamma_p, gamma_d, data, ops=ops)
    return c0 + ops.logaddexp(alive, dead)


def _tail_and_derivatives(
    u: FloatArray, v: FloatArray, p: FloatArray, s: float
) -> tuple[FloatArray, ...]:
    """``log G(u, v)`` and its partial derivatives w.r.t. ``u, v, p, s`` (1-d arrays)."""
    fa = u >= v
    big = np.maximum(u, v)
    z = np.abs(u - v) / big
    b = np.where(fa, p, s + 1.0)
    h, h_b, h_c, h_z = log_hyp2f1_1bc(b, p + s + 1.0, z, order=1)
    lu, lv = np.log(u), np.log(v)
    value = -p * lu - s * lv + np.where(fa, 0.0, lu - lv) + h
    z_u = np.where(fa, v / u**2, -1.0 / v)
    z_v = np.where(fa, -1.0 / u, u / v**2)
    d_u = -p / u + np.where(fa, 0.0, 1.0 / u) + h_z * z_u
    d_v = -s / v - np.where(fa, 0.0, 1.0 / v) + h_z * z_v
    d_p = -lu + np.where(fa, h_b, 0.0) + h_c
    d_s = -lv + np.where(fa, 0.0, h_b) + h_c
    return value, d_u, d_v, d_p, d_s


_SEG_NODES, _SEG_WEIGHTS = np.polynomial.legendre.leggauss(20)
_SHORT = 0.5  # Gauss-Legendre where the period is short next to u0 and v0


def _segments_numpy(
    u0: FloatArray, v0: FloatArray, ell: FloatArray, p: FloatArray, s: float, order: int
) -> tuple[FloatArray, ...]:
    r"""``log(G(u0, v0) - G(u0 + ell, v0 + ell))`` per period, and (``order=1``) its derivatives.

    Derivatives w.r.t. ``u0, v0, ell, p, s`` (``ell`` moves both ends).  A
    period that is short next to ``u0`` and ``v0`` (``ell <= u0/2`` and
    ``ell <= v0/2``; the integrand's singularities at ``-u0``, ``-v0`` are then
    at least two lengths away, so 20-point Gauss-Legendre is exact to rounding)
    is integrated directly,
    :math:`(r+s+x)\int_0^{\ell}(u_0+\tau)^{-p}(v_0+\tau)^{-(s+1)}d\tau`;
    the others take the difference of the closed-form tails.
    """
    m = p + s
    short = (ell <= _SHORT * u0) & (ell <= _SHORT * v0)
    n_out = 6 if order else 1
    out = [np.empty(u0.size) for _ in range(n_out)]
    q = short
    if q.any():
        uu, vv, LL, pp, mm = u0[q], v0[q], ell[q], p[q], m[q]
        tau = 0.5 * LL[:, None] * (_SEG_NODES + 1.0)
        lu = np.log(uu[:, None] + tau)
        lv = np.log(vv[:, None] + tau)
        log_f = -pp[:, None] * lu - (s + 1.0) * lv
        top = log_f.max(axis=1, keepdims=True)
        wf = _SEG_WEIGHTS * np.exp(log_f - top)  # proportional to the quadrature terms
        total = wf.sum(axis=1)
        out[0][q] = np.log(mm) + np.log(0.5 * LL) + top[:, 0] + np.log(total)
        if order:
            wn = wf / total[:, None]  # normalised: E_J[.] over the nodes
            out[1][q] = -pp * np.sum(wn / np.exp(lu), axis=1)
            out[2][q] = -(s + 1.0) * np.sum(wn / np.exp(lv), axis=1)
            log_fL = -pp * np.log(uu + LL) - (s + 1.0) * np.log(vv + LL)
            out[3][q] = np.exp(log_fL - top[:, 0] - np.log(0.5 * LL) - np.log(total))
            out[4][q] = 1.0 / mm - np.sum(wn * lu, axis=1)
            out[5][q] = 1.0 / mm - np.sum(wn * lv, axis=1)
    q = ~short
    if q.any():
        uu, vv, LL, pp = u0[q], v0[q], ell[q], p[q]
        t0, u0d, v0d, p0d, s0d = _tail_and_derivatives(uu, vv, pp, s)
        t1, u1d, v1d, p1d, s1d = _tail_and_derivatives(uu + LL, vv + LL, pp, s)
        diff = np.minimum(t1 - t0, 0.0)
        with np.errstate(divide="ignore"):
            log_w0 = -log1mexp(diff)  # w0 = 1 / (1 - e^(t1 - t0)), w1 = w0 - 1
        out[0][q] = t0 + log1mexp(diff)
        if order:
            w0 = np.exp(log_w0)
            w1 = np.exp(diff + log_w0)
            out[1][q] = w0 * u0d - w1 * u1d
            out[2][q] = w0 * v0d - w1 * v1d
            out[3][q] = -w1 * (u1d + v1d)
            out[4][q] = w0 * p0d - w1 * p1d
            out[5][q] = w0 * s0d - w1 * s1d
    return tuple(out)


def log_likelihood_gradient(
    params: Any, gamma_p: Any, gamma_d: Any, data: DynCovArrays
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and its analytic gradient (NumPy).

    Returns
    -------
    ll : ndarray, shape (n,)
    grad : ndarray, shape (4 + k_p + k_d, n)
        Derivatives w.r.t. ``r, alpha, s, beta`` (natural scale), then the
        purchase and the dropout coefficients.
    """
    r, alpha, s, beta = (float(v) for v in params)
    gp = np.asarray(gamma_p, dtype=np.float64)
    gd = np.asarray(gamma_d, dtype=np.float64)
    x = data.frequency
    n = x.size
    kp, kd = gp.size, gd.size
    p = r + x
    m = p + s
    Xp_h, Xd_h = data.hist_purchase, data.hist_dropout
    Xp, Xd = data.post_purchase, data.post_dropout
    A_h = np.exp(_eta(Xp_h, gp))
    C_h = np.exp(_eta(Xd_h, gd))
    L_h = data.hist_length
    B_tx = np.sum(L_h * A_h, axis=1)
    D_tx = np.sum(L_h * C_h, axis=1)
    gB_tx = np.einsum("nk,nkj->nj", L_h * A_h, Xp_h)  # dB(t_x)/dgamma_p
    gD_tx = np.einsum("nk,nkj->nj", L_h * C_h, Xd_h)
    eta_p = _eta(Xp, gp)
    eta_d = _eta(Xd, gd)
    A = np.exp(eta_p)
    C = np.exp(eta_d)
    L = data.post_length
    dB = L * A
    dD = L * C
    B0 = B_tx[:, None] + np.cumsum(dB, axis=1) - dB
    D0 = D_tx[:, None] + np.cumsum(dD, axis=1) - dD
    gdB = dB[..., None] * Xp  # (n, J, kp)
    gdD = dD[..., None] * Xd
    gB0 = gB_tx[:, None, :] + np.cumsum(gdB, axis=1) - gdB
    gD0 = gD_tx[:, None, :] + np.cumsum(gdD, axis=1) - gdD
    B_T = B_tx + dB.sum(axis=1)
    D_T = D_tx + dD.sum(axis=1)
    gB_T = gB_tx + gdB.sum(axis=1)
    gD_T = gD_tx + gdD.sum(axis=1)
    # ---- segments (valid entries only)
    valid = L > 0
    rows = np.nonzero(valid)[0]
    ratio = np.exp(eta_p - eta_d)[valid]
    u0 = alpha + B0[valid]
    v0 = (beta + D0[valid]) * ratio
    ell = dB[valid]
    pv = p[rows]
    lseg, d_u0, d_v0, d_L, d_p, d_s = _segments_numpy(u0, v0, ell, pv, s, 1)
    seg_v = s * (eta_p - eta_d)[valid] + lseg
    seg = np.full(valid.shape, -np.inf)
    seg[valid] = seg_v
    lse = special.logsumexp(seg, axis=1)
    dead = np.log(s) - np.log(m) + lse
    alive = -p * np.log(alpha + B_T) - s * np.log(beta + D_T)
    lam = np.logaddexp(alive, dead)
    pi_a = np.exp(alive - lam)
    pi_d = np.exp(dead - lam)
    q = np.exp(seg_v - lse[rows]) * pi_d[rows]  # weight of each segment in d log L
    Xp_v, Xd_v = Xp[valid], Xd[valid]
    c0 = (
        special.gammaln(p)
        - special.gammaln(r)
        + r * np.log(alpha)
        + s * np.log(beta)
        + _eta(data.purchase_sum, gp)
    )
    ll = c0 + lam
    grad = np.zeros((4 + kp + kd, n))

    def seg_sum(values: FloatArray) -> FloatArray:
        # with weights, bincount returns floats (NumPy's stub says integers)
        return cast(FloatArray, np.bincount(rows, weights=q * values, minlength=n))

    # r
    grad[0] = (
        special.digamma(p)
        - special.digamma(r)
        + np.log(alpha)
        - pi_a * np.log(alpha + B_T)
        - pi_d / m
        + seg_sum(d_p)
    )
    # alpha: u0 and u1 move by 1
    grad[1] = r / alpha - pi_a * p / (alpha + B_T) + seg_sum(d_u0)
    # s
    grad[2] = (
        np.log(beta)
        - pi_a * np.log(beta + D_T)
        + pi_d * (1.0 / s - 1.0 / m)
        + seg_sum((eta_p - eta_d)[valid] + d_s)
    )
    # beta: v0 and v1 move by A/C
    grad[3] = s / beta - pi_a * s / (beta + D_T) + seg_sum(d_v0 * ratio)
    if kp:
        gB0_v = gB0[valid]
        ell_x = ell[:, None] * Xp_v
        d_seg = (
            s * Xp_v
            + d_u0[:, None] * gB0_v
            + d_v0[:, None] * v0[:, None] * Xp_v
            + d_L[:, None] * ell_x
        )
        grad[4 : 4 + kp] = (
            data.purchase_sum.T
            - (pi_a * p / (alpha + B_T)) * gB_T.T
            + np.stack([seg_sum(d_seg[:, j]) for j in range(kp)])
        )
    if kd:
        gD0_v = gD0[valid]
        dv = ratio[:, None] * gD0_v - v0[:, None] * Xd_v  # dv0 = dv1 w.r.t. gamma_d
        d_seg = -s * Xd_v + d_v0[:, None] * dv
        grad[4 + kp :] = -(pi_a * s / (beta + D_T)) * gD_T.T + np.stack(
            [seg_sum(d_seg[:, j]) for j in range(kd)]
        )
    return ll, grad


def state_at_T(
    params: Any, gamma_p: Any, gamma_d: Any, data: DynCovArrays
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ``(log P(alive at T), alpha + B(T), beta + D(T))`` per customer.

    Given alive at :math:`T`, the posterior of :math:`\\lambda_0` is
    :math:`\\mathrm{Gamma}(r+x, \\alpha+B(T))` and that of :math:`\\mu_0` is
    :math:`\\mathrm{Gamma}(s, \\beta+D(T))`, independent.
    """
    _, alpha, _, beta = (float(v) for v in params)
    gp = np.asarray(gamma_p, dtype=np.float64)
    gd = np.asarray(gamma_d, dtype=np.float64)
    _, alive, dead = likelihood_terms(params, gp, gd, data)
    _, _, _, _, B_T, D_T = cumulative_at_T(gp, gd, data)
    return alive - np.logaddexp(alive, dead), alpha + B_T, beta + D_T


def _future_pieces(
    gamma_p: Any, gamma_d: Any, future: FutureArrays, t: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Lengths of the future periods clipped to ``(T, T + t]``, and their multipliers."""
    start = np.cumsum(future.length, axis=1) - future.length
    length = np.clip(t - start, 0.0, future.length)
    A = np.exp(_eta(future.purchase, np.asarray(gamma_p, dtype=np.float64)))
    C = np.exp(_eta(future.dropout, np.asarray(gamma_d, dtype=np.float64)))
    return length, A, C


def _check_horizon(future: FutureArrays, t: float) -> None:
    total = future.length.sum(axis=1)
    if np.any(total < t * (1.0 - 1e-12)):
        raise ValueError(
            f"the future covariate path covers {float(total.min()):.6g} periods, "
            f"less than the horizon t={t}."
        )


def probability_alive(
    params: Any,
    gamma_p: Any,
    gamma_d: Any,
    data: DynCovArrays,
    future: FutureArrays | None = None,
    t: float = 0.0,
) -> FloatArray:
    r"""Probability of being alive at :math:`T + t` given the history and the future path.

    .. math:: P(\text{alive at } T+t) = P(\text{alive at } T)
              \Bigl(\frac{\beta+D(T)}{\beta+D(T+t)}\Bigr)^{s}
    """
    s = float(params[2])
    log_alive, _, beta_T = state_at_T(params, gamma_p, gamma_d, data)
    if t == 0:
        return np.exp(log_alive)
    if future is None:
        raise ValueError("a future covariate path is needed for t > 0.")
    _check_horizon(future, t)
    length, _, C = _future_pieces(gamma_p, gamma_d, future, t)
    dD = np.sum(length * C, axis=1)
    return np.exp(log_alive + s * (np.log(beta_T) - np.log(beta_T + dD)))


def expected_purchases(
    params: Any, gamma_p: Any, gamma_d: Any, data: DynCovArrays, future: FutureArrays, t: float
) -> FloatArray:
    r"""Expected repeat purchases in :math:`(T, T+t]` given the history and the future path.

    .. math::

       E[Y(t)] = P(\text{alive at }T)\,\frac{r+x}{\alpha+B(T)}
       \int_T^{T+t} a(u)\Bigl(\frac{\beta+D(T)}{\beta+D(u)}\Bigr)^{s} du,

    in closed form per future period (:math:`a, c` constant there, :math:`D`
    linear): :math:`\frac{a}{c}\,b^{s}\,\frac{d_0^{1-s} - d_1^{1-s}}{s-1}`
    with :math:`b = \beta + D(T)` and :math:`d_0, d_1` the values of
    :math:`\beta + D` at the period's ends (:math:`\log(d_1/d_0)` at
    :math:`s = 1`).
    """
    r, _, s, _ = (float(v) for v in params)
    _check_horizon(future, t)
    log_alive, alpha_T, beta_T = state_at_T(params, gamma_p, gamma_d, data)
    length, A, C = _future_pieces(gamma_p, gamma_d, future, t)
    dD = length * C
    d0 = beta_T[:, None] + np.cumsum(dD, axis=1) - dD
    ell = np.log1p(dD / d0)  # log(d1 / d0) >= 0
    y = (s - 1.0) * ell
    small = np.abs(y) < 1e-8
    safe = np.where(small, 1.0, y)
    frac = np.where(small, 1.0 - 0.5 * y, -np.expm1(-safe) / safe)  # (1 - e^-y)/y
    # integral over the period of (b/d(u))^s du = (b/d0)^s * d0 * ell * frac / c
    log_b = np.log(beta_T)[:, None]
    with np.errstate(divide="ignore"):  # zero-length periods: log(0) = -inf, no contribution
        piece = (
            np.log(A)
            - np.log(C)
            + s * (log_b - np.log(d0))
            + np.log(d0)
            + np.log(ell)
            + np.log(frac)
        )
    total = special.logsumexp(piece, axis=1)
    return np.exp(log_alive + np.log(r + data.frequency) - np.log(alpha_T) + total)


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(24)


def expected_discounted_purchases(
    params: Any,
    gamma_p: Any,
    gamma_d: Any,
    data: DynCovArrays,
    future: FutureArrays,
    t: float,
    discount_rate: float,
) -> FloatArray:
    r"""Discounted expected purchases in :math:`(T, T+t]`: the integrand of
    :func:`expected_purchases` times :math:`(1+d)^{-(u-T)}`, by 24-point
    Gauss-Legendre quadrature on each future period (smooth there).
    """
    d = float(discount_rate)
    if not (np.isfinite(d) and d >= 0):
        raise ValueError(f"discount_rate must be a number >= 0 per period, got {discount_rate!r}.")
    delta = np.log1p(d)
    r, _, s, _ = (float(v) for v in params)
    _check_horizon(future, t)
    log_alive, alpha_T, beta_T = state_at_T(params, gamma_p, gamma_d, data)
    length, A, C = _future_pieces(gamma_p, gamma_d, future, t)
    start = np.cumsum(length, axis=1) - length
    dD = length * C
    d0 = beta_T[:, None] + np.cumsum(dD, axis=1) - dD
    tau = 0.5 * length[..., None] * (_GL_NODES + 1.0)  # (n, H, q) time into the period
    log_f = s * (
        np.log(beta_T)[:, None, None] - np.log(d0[..., None] + C[..., None] * tau)
    ) - delta * (start[..., None] + tau)
    integral = np.sum(A * 0.5 * length * np.sum(_GL_WEIGHTS * np.exp(log_f), axis=2), axis=1)
    return np.exp(log_alive + np.log(r + data.frequency) - np.log(alpha_T)) * integral


def _period_integral(
    length: FloatArray, d0: FloatArray, C: FloatArray, log_b: FloatArray, s: float
) -> FloatArray:
    r""":math:`\int_0^{l} (b / (d_0 + C u))^s du` (0 where ``length`` is 0), stably."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ell = np.log1p(length * C / d0)
        y = (s - 1.0) * ell
        small = np.abs(y) < 1e-8
        safe = np.where(small, 1.0, y)
        frac = np.where(small, 1.0 - 0.5 * y, -np.expm1(-safe) / safe)
        out = np.exp(s * (log_b - np.log(d0)) + np.log(d0) - np.log(C)) * ell * frac
    return np.where(length > 0, out, 0.0)


def expected_purchases_by_period(
    params: Any,
    gamma_p: Any,
    gamma_d: Any,
    data: DynCovArrays,
    future: FutureArrays,
    ends: Any,
    *,
    purchase_offset: FloatArray | None = None,
    dropout_offset: FloatArray | None = None,
    state: tuple[FloatArray, FloatArray, FloatArray] | None = None,
) -> FloatArray:
    r"""Expected repeat purchases in :math:`(T, T + e_k]` for each end :math:`e_k`, shape (n, K).

    The integrand of :func:`expected_purchases` summed in closed form over the
    future periods, with the cumulative value read off at every end (increasing,
    in periods after :math:`T`): differences of consecutive columns are the
    expected purchases per valuation period.  ``purchase_offset`` and
    ``dropout_offset`` (shape of ``future.length``) are extra log multipliers of
    the future rates per future period, e.g. an intervention's effect with its
    own coefficients; the history is conditioned on the fitted model as is.
    ``state`` is :func:`state_at_T` of the same parameters and data, when known
    (it does not depend on the future).
    """
    r, _, s, _ = (float(v) for v in params)
    e = np.asarray(ends, dtype=np.float64).reshape(-1)
    if e.size == 0 or np.any(np.diff(e) < 0) or e[0] < 0:
        raise ValueError("ends must be increasing times >= 0 after T.")
    _check_horizon(future, float(e[-1]))
    if state is None:
        state = state_at_T(params, gamma_p, gamma_d, data)
    log_alive, alpha_T, beta_T = state
    length, A, C = _future_pieces(gamma_p, gamma_d, future, float(e[-1]))
    if purchase_offset is not None:
        A = A * np.exp(purchase_offset)
    if dropout_offset is not None:
        C = C * np.exp(dropout_offset)
    start = np.cumsum(length, axis=1) - length
    dD = length * C
    d0 = beta_T[:, None] + np.cumsum(dD, axis=1) - dD
    log_b = np.log(beta_T)[:, None]
    whole = A * _period_integral(length, d0, C, log_b, s)
    cum = np.concatenate([np.zeros((length.shape[0], 1)), np.cumsum(whole, axis=1)], axis=1)
    # the period containing each end: start_j < e <= start_j + length_j (j = 0 for e = 0)
    j = np.maximum((start[:, :, None] < e[None, None, :]).sum(axis=1) - 1, 0)  # (n, K)
    rows = np.arange(length.shape[0])[:, None]
    part = np.clip(e[None, :] - start[rows, j], 0.0, length[rows, j])
    partial = A[rows, j] * _period_integral(
        part, d0[rows, j], C[rows, j], np.broadcast_to(log_b, part.shape), s
    )
    scale = np.exp(log_alive + np.log(r + data.frequency) - np.log(alpha_T))
    return scale[:, None] * (cum[rows, j] + partial)
