r"""Cost to serve: how many service contacts a customer makes, as a log-linear rate model.

Contacts of customer :math:`i` over an exposure time :math:`E_i` (e.g. days
since the customer's first purchase) are modelled as Poisson counts with rate

.. math::

   y_i \sim \mathrm{Poisson}\bigl(E_i\, e^{\beta_0 + x_i^\top \beta}\bigr),

fitted by Newton's method on the log-likelihood (a Poisson GLM with offset
:math:`\log E_i`). Contact counts are usually over-dispersed, so the
covariance of :math:`\hat\beta` is the sandwich (robust) estimator
:math:`H^{-1} (\sum_i g_i g_i^\top) H^{-1}`: the point estimates are those of
the Poisson quasi-likelihood, valid under any variance, and the intervals do
not pretend the counts are Poisson. The dispersion (Pearson
:math:`\chi^2` / degrees of freedom) is reported.

The coefficients are associations: customers with poor resolution may contact
more because of who they are, not only because of how they were served. The
ROI engine therefore grades a service-cost effect from this model "C"
(observational) unless an experiment supplies ``contact[<column>]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clv._typing import DateLike
from clv.exceptions import ConvergenceError, DataError, Problem

__all__ = [
    "CONTACT_SIGNALS",
    "ContactModel",
    "count_contacts",
    "fit_poisson_rate",
    "poisson_rate_loglik",
]

#: Event signals that mark one service contact, in order of preference.
CONTACT_SIGNALS = ("contact_wait_seconds", "contact_resolved_first")
INTERCEPT = "contact_intercept"
_MAX_ETA = 700.0


def poisson_rate_loglik(
    beta: np.ndarray, X: np.ndarray, counts: np.ndarray, exposure: np.ndarray
) -> float:
    r"""Log-likelihood of a Poisson rate model, without the :math:`-\log y!` constant.

    ``X`` includes the intercept column; ``exposure`` > 0.

    Examples
    --------
    >>> X = np.ones((2, 1))
    >>> round(poisson_rate_loglik(np.array([0.0]), X, np.array([1.0, 3.0]),
    ...                           np.array([1.0, 2.0])), 6)
    -0.920558
    """
    eta = np.minimum(X @ beta, _MAX_ETA) + np.log(exposure)
    return float(np.add.reduce(counts * eta - np.exp(eta)))


def fit_poisson_rate(
    X: np.ndarray,
    counts: np.ndarray,
    exposure: np.ndarray,
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Maximum-likelihood coefficients, sandwich covariance and Pearson dispersion.

    Parameters
    ----------
    X : array (n, p)
        Design with the intercept in column 0.
    counts : array (n,)
        Non-negative counts.
    exposure : array (n,)
        Positive exposure times.

    Returns
    -------
    beta, covariance, dispersion

    Raises
    ------
    ConvergenceError
        When Newton's method does not converge (e.g. a covariate separates the
        zero counts).

    Examples
    --------
    >>> X = np.ones((4, 1))
    >>> beta, cov, _ = fit_poisson_rate(X, np.array([1.0, 2.0, 3.0, 2.0]), np.full(4, 2.0))
    >>> round(float(np.exp(beta[0])), 6)
    1.0
    """
    y = np.asarray(counts, dtype=np.float64)
    e = np.asarray(exposure, dtype=np.float64)
    n, p = X.shape
    rate0 = max(y.sum() / e.sum(), 1e-12)
    beta = np.zeros(p)
    beta[0] = math.log(rate0)
    ll = poisson_rate_loglik(beta, X, y, e)
    for _ in range(max_iter):
        mu = e * np.exp(np.minimum(X @ beta, _MAX_ETA))
        grad = X.T @ (y - mu)
        hess = (X * mu[:, None]).T @ X
        try:
            step = np.linalg.solve(hess + 1e-12 * np.eye(p), grad)
        except np.linalg.LinAlgError:
            raise ConvergenceError(
                "the contact-rate model's information matrix is singular: "
                "a covariate is constant or collinear among the modelled "
                "customers; drop it from contact_covariates"
            ) from None
        t = 1.0
        while True:
            cand = beta + t * step
            new = poisson_rate_loglik(cand, X, y, e)
            if new >= ll - 1e-12 or t < 1e-8:
                break
            t *= 0.5
        beta, done = cand, abs(new - ll) < tol * (1.0 + abs(ll))
        ll = new
        if done and float(np.max(np.abs(step))) < 1e-6:
            break
    else:
        raise ConvergenceError(
            "the contact-rate model did not converge in "
            f"{max_iter} Newton steps; a covariate may separate customers "
            "with and without repeat contacts"
        )
    if not np.all(np.isfinite(beta)) or np.any(np.abs(beta) > 50):
        raise ConvergenceError(
            "the contact-rate model diverged (a coefficient beyond ±50): a "
            "covariate separates customers with and without contacts"
        )
    mu = e * np.exp(X @ beta)
    hess = (X * mu[:, None]).T @ X
    g = X * (y - mu)[:, None]
    h_inv = np.linalg.pinv(hess)
    cov = h_inv @ (g.T @ g) @ h_inv
    dispersion = float(np.add.reduce((y - mu) ** 2 / mu) / max(n - p, 1))
    return beta, cov, dispersion


@dataclass
class ContactModel:
    """Service contacts per unit of time, per customer, with covariates.

    Parameters
    ----------
    covariates : sequence of str
        Columns of the frame passed to :meth:`fit` and :meth:`rate` (e.g.
        ``["fcr_rate", "wait_minutes"]``). Their coefficients are named
        ``contact[<column>]``.

    Attributes
    ----------
    params_ : Series
        ``contact_intercept`` (log contacts per unit time at zero covariates) and
        ``contact[<column>]``.
    covariance_ : DataFrame
        Sandwich covariance of ``params_``.
    dispersion_ : float
        Pearson dispersion (1 for Poisson counts; larger: over-dispersed).
    n_customers_, n_contacts_ : int

    Examples
    --------
    >>> frame = pd.DataFrame({"fcr_rate": [0.0, 0.5, 1.0, 1.0]})
    >>> m = ContactModel(["fcr_rate"]).fit([4, 2, 1, 0], [10.0, 10.0, 10.0, 10.0], frame)
    >>> bool(m.params_["contact[fcr_rate]"] < 0)
    True
    """

    covariates: Sequence[str] = ()
    params_: pd.Series = field(init=False, repr=False)
    covariance_: pd.DataFrame = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.covariates = [str(c) for c in self.covariates]

    @property
    def names(self) -> list[str]:
        """Parameter names: the intercept, then ``contact[<column>]``."""
        return [INTERCEPT, *(f"contact[{c}]" for c in self.covariates)]

    def _design(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.covariates if c not in frame.columns]
        if missing:
            raise DataError(
                [
                    Problem(
                        c,
                        "contact-model covariate is missing",
                        "pass the feature frame the model was fitted with",
                    )
                    for c in missing
                ],
                what="the contact data",
            )
        X = frame[list(self.covariates)].to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(X)):
            bad = ~np.isfinite(X).all(axis=1)
            raise DataError(
                [
                    Problem(
                        None,
                        f"{int(bad.sum())} rows have missing or infinite covariates",
                        "fill or drop them",
                        rows=list(frame.index[bad][:5]),
                    )
                ],
                what="the contact data",
            )
        return np.column_stack([np.ones(len(frame)), X])

    def fit(
        self,
        counts: Sequence[float] | np.ndarray | pd.Series,
        exposure: Sequence[float] | np.ndarray | pd.Series,
        frame: pd.DataFrame,
    ) -> ContactModel:
        """Fit to contact counts over exposure times, covariates from ``frame`` (same rows)."""
        y = np.asarray(counts, dtype=np.float64)
        e = np.asarray(exposure, dtype=np.float64)
        if y.shape != (len(frame),) or e.shape != (len(frame),):
            raise DataError(
                [
                    Problem(
                        None,
                        "counts, exposure and the covariate frame have different lengths",
                        "pass one value per row",
                    )
                ],
                what="the contact data",
            )
        if not (np.all(np.isfinite(y)) and np.all(y >= 0)):
            raise DataError(
                [Problem("contacts", "counts must be finite and >= 0", "check the contact events")],
                what="the contact data",
            )
        if not (np.all(np.isfinite(e)) and np.all(e > 0)):
            raise DataError(
                [
                    Problem(
                        "exposure",
                        "exposure times must be > 0",
                        "measure exposure from the first purchase to the cutoff",
                    )
                ],
                what="the contact data",
            )
        if len(y) <= len(self.covariates) + 1 or y.sum() == 0:
            raise DataError(
                [
                    Problem(
                        "contacts",
                        f"{len(y)} customers with {int(y.sum())} "
                        "contacts cannot identify a contact rate with "
                        f"{len(self.covariates)} covariates",
                        "give more customers or fewer covariates",
                    )
                ],
                what="the contact data",
            )
        beta, cov, disp = fit_poisson_rate(self._design(frame), y, e)
        self.params_ = pd.Series(beta, index=self.names)
        self.covariance_ = pd.DataFrame(cov, index=self.names, columns=self.names)
        self.dispersion_ = disp
        self.n_customers_ = len(y)
        self.n_contacts_ = int(y.sum())
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            from clv.exceptions import NotFittedError

            raise NotFittedError("ContactModel is not fitted; call fit(counts, exposure, frame).")

    def rate(self, frame: pd.DataFrame, params: pd.Series | None = None) -> np.ndarray:
        """Contacts per unit time for each row of ``frame`` (under ``params``, default the fit)."""
        self._check_fitted()
        p = self.params_ if params is None else params
        beta = np.asarray([float(p[n]) for n in self.names])
        return np.exp(np.minimum(self._design(frame) @ beta, _MAX_ETA))

    def sample_params(
        self, n: int, random_state: int | np.random.Generator | None = None
    ) -> pd.DataFrame:
        """Draws from the asymptotic normal of the coefficients (sandwich covariance)."""
        self._check_fitted()
        rng = np.random.default_rng(random_state)
        cov = self.covariance_.to_numpy()
        cov = 0.5 * (cov + cov.T)
        w, v = np.linalg.eigh(cov)
        root = v * np.sqrt(np.clip(w, 0.0, None))
        z = rng.standard_normal((n, len(self.names)))
        return pd.DataFrame(self.params_.to_numpy() + z @ root.T, columns=self.names)

    def summary(self) -> pd.DataFrame:
        """Coefficients with robust standard errors, rate ratios and 95 % intervals."""
        self._check_fitted()
        se = np.sqrt(np.clip(np.diag(self.covariance_.to_numpy()), 0.0, None))
        coef = self.params_.to_numpy()
        return pd.DataFrame(
            {
                "coef": coef,
                "se": se,
                "rate_ratio": np.exp(coef),
                "lower": coef - 1.96 * se,
                "upper": coef + 1.96 * se,
            },
            index=self.names,
        )


def count_contacts(
    events: pd.DataFrame, cutoff: DateLike, *, signal: str | None = None
) -> pd.Series:
    """Service contacts per customer strictly before ``cutoff``, from validated CX events.

    One event of ``signal`` is one contact (default: the first of
    :data:`CONTACT_SIGNALS` present). Customers without contacts are absent
    from the result (reindex with ``fill_value=0``).

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": [1, 1, 2], "signal": ["contact_wait_seconds"] * 3,
    ...                    "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
    ...                    "value": [60.0, 30.0, 10.0]})
    >>> count_contacts(ev, "2024-02-15").to_dict()
    {1: 2}
    """
    if signal is None:
        present = set(events["signal"].unique())
        signal = next((s for s in CONTACT_SIGNALS if s in present), None)
        if signal is None:
            return pd.Series(dtype=np.int64, name="contacts")
    before = events[
        (events["signal"] == signal) & (pd.to_datetime(events["timestamp"]) < pd.Timestamp(cutoff))
    ]
    return before.groupby("customer_id").size().rename("contacts").astype(np.int64)
