"""One set of money options for every command: an annual discount rate and a margin.

``--annual-discount-rate`` (default :data:`clv.value.DEFAULT_ANNUAL_DISCOUNT_RATE`,
10 % a year) is converted once, exactly, to the period the command works in
(the model's time unit for ``score``, months for ``roi``/``report``, weeks for
``demo``) and the per-period equivalent is printed and recorded.
``--discount-rate-per-period`` takes a per-period rate as is. The old
``--discount-rate`` still works for one release: it is read as a per-period
rate, with a ``DeprecationWarning`` saying so. ``--margin`` defaults to
:data:`clv.value.DEFAULT_MARGIN` everywhere.
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

from clv.cli.config import UsageError

__all__ = ["money_settings"]


def money_settings(opts: argparse.Namespace, time_unit: str) -> tuple[Any, float]:
    """Resolve the discount rate and margin options of a command.

    Parameters
    ----------
    opts : argparse.Namespace
        Parsed options (``annual_discount_rate``, ``discount_rate_per_period``,
        ``discount_rate``, ``margin``).
    time_unit : str
        Period the command discounts over (``"W"``, ``"M"`` ...).

    Returns
    -------
    (DiscountRate, float)
        The resolved rate (:class:`clv.value.DiscountRate`) and the margin.

    Raises
    ------
    UsageError
        Two rates at once, a negative rate or a margin outside ``(0, 1]``.
    """
    from clv.value import DEFAULT_MARGIN, resolve_discount_rate

    annual = getattr(opts, "annual_discount_rate", None)
    per_period = getattr(opts, "discount_rate_per_period", None)
    old = getattr(opts, "discount_rate", None)
    given = [
        flag
        for flag, value in (
            ("--annual-discount-rate", annual),
            ("--discount-rate-per-period", per_period),
            ("--discount-rate", old),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise UsageError(
            f"give one discount rate, not {' and '.join(given)}: "
            "--annual-discount-rate (per year, the default) or "
            "--discount-rate-per-period."
        )
    for flag, value in (
        ("--annual-discount-rate", annual),
        ("--discount-rate-per-period", per_period),
        ("--discount-rate", old),
    ):
        if value is not None and value < 0:
            raise UsageError(f"{flag} must be >= 0, got {value:g}.")
    with warnings.catch_warnings():
        # the library's DeprecationWarning names Python arguments; the CLI says it with flags
        warnings.simplefilter("ignore", DeprecationWarning)
        rate = resolve_discount_rate(
            annual_discount_rate=annual,
            discount_rate_per_period=per_period,
            discount_rate=old,
            time_unit=time_unit,
        )
    if old is not None:
        period = "PERIOD" if rate.time_unit is None else rate.time_unit.label.upper()
        yearly = "" if rate.annual is None else f" (= {100 * rate.annual:.4g} % a year)"
        warnings.warn(
            f"--discount-rate is deprecated and will be removed in the next release: {old:g} "
            f"is read as a rate PER {period}{yearly}. Use --discount-rate-per-period {old:g} to "
            "keep this meaning, or --annual-discount-rate.",
            DeprecationWarning,
            stacklevel=2,
        )
    margin = DEFAULT_MARGIN if opts.margin is None else opts.margin
    if not 0 < margin <= 1:
        raise UsageError(
            f"--margin must be in (0, 1] (share of spend that is profit), got {margin:g}."
        )
    opts.margin = margin
    return rate, margin
