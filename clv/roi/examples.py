"""Example experience investments for the synthetic CX world (:func:`clv.synth.simulate_cx_world`).

Used by ``clv demo``, the notebooks and the docs. Costs are scaled to a base of
``n_customers`` customers (the world's customers are worth tens of currency
units each); effects act on the world's features (``complaints``,
``wait_minutes``, ``fcr_rate``, ``promoter``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from clv.roi.spec import Evidence, Investment, Shift

__all__ = ["example_investments", "monthly_acquisition", "monthly_new_customers"]


def monthly_new_customers(world: Any) -> pd.DataFrame:
    """The world's new customers per calendar month of the calibration period.

    Columns ``period`` (1, 2, ...), ``new_customers`` (the weekly counts summed
    per month of the week's start) and ``promoter_share`` (the month's mean lagged
    promoter share): the layout ``clv roi --new-customers`` reads.
    """
    weekly = world.acquisition
    weekly = weekly[weekly["week_start"] < world.calibration_end]
    month = weekly["week_start"].dt.to_period("M")
    agg = weekly.groupby(month).agg(
        new_customers=("new_customers", "sum"), promoter_share=("promoter_share_lag1", "mean")
    )
    return pd.DataFrame(
        {
            "period": np.arange(1, len(agg) + 1),
            "new_customers": agg["new_customers"].to_numpy(dtype=np.int64),
            "promoter_share": agg["promoter_share"].to_numpy(dtype=np.float64),
        }
    )


def monthly_acquisition(world: Any, horizon: int = 24) -> tuple[Any, pd.DataFrame]:
    """An acquisition model of the world's monthly new customers, and its future covariates.

    The weekly counts of the calibration year are summed per calendar month, with
    the month's mean lagged promoter share as the covariate ``promoter_share``
    (:func:`monthly_new_customers`); the future path holds the share at its
    calibration mean (the no-investment scenario).
    """
    from clv.models import AcquisitionModel

    agg = monthly_new_customers(world)
    periods = pd.RangeIndex(1, len(agg) + 1, name="period")
    counts = pd.Series(agg["new_customers"].to_numpy(dtype=float), index=periods)
    covariates = pd.DataFrame({"promoter_share": agg["promoter_share"].to_numpy()}, index=periods)
    model = AcquisitionModel().fit(counts, covariates=covariates)
    future = pd.DataFrame(
        {"promoter_share": np.full(horizon, covariates["promoter_share"].mean())},
        index=pd.RangeIndex(len(agg) + 1, len(agg) + horizon + 1, name="period"),
    )
    return model, future


def example_investments(
    n_customers: int = 20_000, *, acquisition: bool = False, experiment: Any = None
) -> list[Investment]:
    """Five investments: faster support, complaint recovery, first-contact resolution,
    a promoter programme and a tested onboarding call; with ``acquisition`` also a
    referral programme acting on new customers through ``promoter_share`` (needs
    :func:`monthly_acquisition`).

    With ``experiment`` (a :class:`clv.cx.experiments.ExperimentResult` of the world's
    onboarding test, column ``onboarding_call``), the onboarding call is the rollout
    of the tested treatment (``Shift("onboarding_call", "set", 1)``) with grade-A
    evidence for the levers the experiment measured
    (:meth:`~clv.roi.Evidence.from_experiment`), scoped to the tested population
    (customers at their first purchase): valued on the existing base, the effect is
    extrapolated and graded C. The scoring data then needs the 0/1 column
    ``onboarding_call`` (1 for the customers already treated).

    Examples
    --------
    >>> [inv.name for inv in example_investments()][:2]
    ['Faster support', 'Complaint recovery']
    """
    k = n_customers / 20_000
    contacted = "wait_minutes_missing == 0"
    out = [
        Investment(
            "Faster support",
            cost=14_000 * k,
            shifts=(Shift("wait_minutes", "relative", -0.3, sd=0.05),),
            target=contacted,
            ramp_periods=3,
            description="More agents at peak hours: 30 % shorter waits (±5 %).",
        ),
        Investment(
            "Complaint recovery",
            cost={0: 6_000 * k, 6: 3_000 * k},
            shifts=(Shift("complaints", "relative", -0.5),),
            description="A recovery team calls back every complainant: half the "
            "complaints do not recur.",
        ),
        Investment(
            "First-contact resolution",
            cost=12_000 * k,
            shifts=(Shift("fcr_rate", "add", 0.15),),
            target=contacted,
            ramp_periods=6,
            description="Agent training and a knowledge base: +15 points of first-"
            "contact resolution.",
        ),
        Investment(
            "Promoter programme",
            cost=9_000 * k,
            shifts=(Shift("promoter", "set", 1.0, where="nps_missing == 0"),),
            duration=12,
            cost_sd=0.2,
            description="Personalised follow-up of surveyed passives and detractors for a year.",
        ),
        Investment(
            "Onboarding call",
            cost=10_000 * k,
            shifts=(Shift("complaints", "relative", -0.2), Shift("wait_minutes", "relative", -0.1)),
            evidence=Evidence.experiment(
                {"dropout[complaints]": (0.30, 0.08), "purchase[complaints]": (-0.12, 0.03)},
                source="onboarding A/B test, 4,000 customers",
            ),
            description="A welcome call; effects on complaints taken from an A/B test.",
        ),
    ]
    if experiment is not None:
        measured = ", ".join(experiment.measured_levers)
        at = next(i for i, inv in enumerate(out) if inv.name == "Onboarding call")
        out[at] = Investment(
            "Onboarding call",
            cost=10_000 * k,
            shifts=[Shift("onboarding_call", "set", 1.0)],
            evidence=Evidence.from_experiment(experiment),
            description=f"A welcome call for every existing customer not yet called. The "
            f"randomised test measured its effects on {measured} for new customers at their "
            "first purchase only (its tested population): for the existing base they are "
            "extrapolated, so this value is graded C until a test on existing customers.",
        )
    if acquisition:
        out.append(
            Investment(
                "Referral programme",
                cost=12_000 * k,
                shifts=(Shift("promoter_share", "add", 0.10, sd=0.03),),
                duration=12,
                description="Referral rewards and review prompts: +10 points (±3) of promoter "
                "share in the market for a year; acts on new customers only.",
            )
        )
    return out
