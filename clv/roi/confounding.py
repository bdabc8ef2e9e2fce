r"""Observational effects valued honestly: a causal-share prior, and robustness to confounding.

A fitted (grade C) coefficient is an association. Its causal part is unknown:
the association may be all cause, part cause and part confounding (a segment
that both waits less and buys more), or none (purchases trigger contacts). The
ROI engine therefore scales every grade-C coefficient, per parameter draw, by a
**causal share** :math:`\kappa \sim \mathrm{Beta}(a, b)` (default
:math:`\mathrm{Beta}(1, 1)`, uniform on 0-1: "somewhere between none and all of
it"), so expected NPVs and P(ROI > 0) integrate over that uncertainty instead of
assuming the association is the effect. Grade A/B/D coefficients (experiment,
quasi-experiment, stated assumption) are not scaled.

Robustness. For a shift whose fully causal value multiplies the targeted
customers' value by :math:`RR`, and which pays back from a causal share
:math:`b` on (the break-even share), an unobserved confounder must produce a bias
factor :math:`B = RR^{1-b}` to bring the NPV to zero. By VanderWeele & Ding
(2017) a confounder associated with the experience and with the outcome by risk
ratios :math:`RR_{EU}, RR_{UD}` can produce at most
:math:`RR_{EU} RR_{UD} / (RR_{EU} + RR_{UD} - 1)`; the smallest equal pair that
reaches :math:`B` is the E-value :math:`B + \sqrt{B(B - 1)}`. The E-value is
benchmarked against the strongest observed control (its rate ratio per SD).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

__all__ = ["CausalShare", "evalue", "expected_value_of_information", "samples_per_arm"]


@dataclass(frozen=True)
class CausalShare:
    """Prior on the share of an observational association that is causal: Beta(a, b).

    Parameters
    ----------
    a, b : float, default 1.0
        Beta shape parameters (1, 1: uniform on 0-1, mean 0.5). ``CausalShare(1, 0)``
        is not allowed; use :meth:`fully_causal` to value associations as effects.

    Examples
    --------
    >>> CausalShare().mean
    0.5
    >>> CausalShare.parse("2,3").describe()
    'causal share ~ Beta(2, 3), mean 0.40'
    """

    a: float = 1.0
    b: float = 1.0
    fixed: float | None = None

    def __post_init__(self) -> None:
        if self.fixed is not None:
            if not (0.0 <= float(self.fixed) <= 1.0):
                raise ValueError(f"a fixed causal share must be in [0, 1], got {self.fixed!r}.")
            return
        for name in ("a", "b"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise ValueError(f"CausalShare.{name} must be a number > 0, got {v!r}.")

    @classmethod
    def fully_causal(cls) -> CausalShare:
        """Treat every association as its causal effect (share 1): the old, optimistic value."""
        return cls(fixed=1.0)

    @classmethod
    def parse(cls, text: str) -> CausalShare:
        """``"a,b"`` (Beta), a single number in [0, 1] (fixed share) or ``"causal"`` (share 1)."""
        t = str(text).strip().lower()
        if t in ("causal", "fully-causal", "1"):
            return cls.fully_causal()
        parts = [p for p in t.replace(" ", "").split(",") if p]
        try:
            nums = [float(p) for p in parts]
        except ValueError:
            raise ValueError(
                f"causal share {text!r}: give 'a,b' (Beta prior), a share in [0, 1] or 'causal'."
            ) from None
        if len(nums) == 1:
            return cls(fixed=nums[0])
        if len(nums) != 2:
            raise ValueError(f"causal share {text!r}: give 'a,b' (Beta prior).")
        return cls(nums[0], nums[1])

    @property
    def mean(self) -> float:
        """Prior mean share."""
        return float(self.fixed) if self.fixed is not None else self.a / (self.a + self.b)

    def draws(self, n: int, seed: int) -> np.ndarray:
        """``n`` shares (the same for a seed)."""
        if self.fixed is not None:
            return np.full(n, float(self.fixed))
        rng = np.random.default_rng([int(seed), zlib.crc32(b"causal_share")])
        return rng.beta(self.a, self.b, n)

    def describe(self) -> str:
        """One line for reports."""
        if self.fixed is not None:
            return (
                "fully causal (share 1)"
                if self.fixed == 1.0
                else f"causal share fixed at {self.fixed:g}"
            )
        return f"causal share ~ Beta({self.a:g}, {self.b:g}), mean {self.mean:.2f}"


def evalue(ratio: float | np.ndarray) -> float | np.ndarray:
    """E-value of a risk/rate ratio (VanderWeele & Ding 2017): :math:`RR + \\sqrt{RR(RR-1)}`.

    Ratios below 1 are inverted first; 1 (or NaN) gives 1 (or NaN).

    Examples
    --------
    >>> round(float(evalue(2.0)), 3)
    3.414
    """
    rr = np.asarray(ratio, dtype=np.float64)
    rr = np.where(rr < 1.0, 1.0 / rr, rr)
    out = rr + np.sqrt(rr * np.maximum(rr - 1.0, 0.0))
    return float(out) if out.ndim == 0 else out


def expected_value_of_information(npv_draws: np.ndarray) -> float:
    """Expected value of perfect information about an investment's NPV (fund-or-not decision).

    :math:`E[\\max(\\mathrm{NPV}, 0)] - \\max(E[\\mathrm{NPV}], 0)` over the draws: what
    a test that revealed the true NPV would be worth at most.

    Examples
    --------
    >>> expected_value_of_information(np.array([-10.0, 30.0]))
    5.0
    """
    v = np.asarray(npv_draws, dtype=np.float64)
    return float(np.maximum(v, 0.0).mean() - max(float(v.mean()), 0.0))


def samples_per_arm(
    relative_effect: float, cv2: float, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Customers per arm to detect a relative change of a per-customer mean.

    Two-sided test of a log ratio of means with per-customer squared coefficient
    of variation ``cv2``: :math:`n = 2 (z_{1-\\alpha/2} + z_{power})^2 \\, cv^2 /
    \\log(1 + \\text{effect})^2`.

    Examples
    --------
    >>> round(samples_per_arm(0.05, 4.0))
    26377
    """
    from scipy import stats

    d = math.log1p(abs(relative_effect)) if relative_effect > -1 else float("inf")
    if not (d > 0 and math.isfinite(cv2) and cv2 > 0):
        return float("inf")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(2.0 * z * z * cv2 / (d * d))
