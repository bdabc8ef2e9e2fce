"""The whole CX-to-ROI job in one call: features, covariate models, holdout check, drivers, ROI.

:func:`run_cx_roi` is what ``clv roi``, ``clv report`` and ``clv demo`` run:

1. CX features as of the cutoff (no event at or after it is used);
2. the RFM summary of the calibration period (daily periods: the models are
   continuous-time; cash flows are then valued per ``period_length`` days);
3. Pareto/NBD with purchase and dropout covariates, and Gamma-Gamma with spend
   covariates, next to the plain Pareto/NBD;
4. when a holdout period is given: both transaction models evaluated on it;
5. the driver table;
6. with a cost per contact: a model of repeat service contacts (the cost to
   serve, :class:`clv.cx.contacts.ContactModel`);
7. the investments: finance table, portfolio under the budget (when one is
   given), sensitivity.

Guards against associations that are not effects (docs/cx.md, "Causal
caveats"): customer attributes enter as **controls** (adjustment covariates
that no investment may shift); investments may shift only **actionable**
columns (:mod:`clv.cx.roles`); fitted effects are valued under a **causal-share
prior** (:mod:`clv.roi.confounding`); **diagnostics** (:mod:`clv.cx.diagnostics`)
flag purchase-triggered and exit signals, placebo failures and survey
selection; every investment gets a **recommendation** (:mod:`clv.roi.decision`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import pandas as pd

from clv.cx.drivers import drivers, engine_settings
from clv.cx.features import FeatureBuilder, count, last, mean, nps_groups, rate
from clv.cx.roles import check_shifts, control_columns, default_roles, encode_controls
from clv.cx.timevarying import fit_with_notes
from clv.data.units import parse_time_unit
from clv.exceptions import DataError, Problem
from clv.roi.spec import coefficient_parts
from clv.value import DEFAULT_MARGIN, resolve_discount_rate

__all__ = ["CXAnalysis", "default_feature_builder", "run_cx_roi"]

DAYS_PER_MONTH = 365.25 / 12
#: Said (CLI, report, ``CXAnalysis.warnings``) when no contribution margin was given.
REVENUE_WARNING = (
    "No margin given: every value is REVENUE, not profit, so NPV and ROI overstate the return "
    "(ROI on revenue is not ROI). 'fund' then needs the tested effects to pay back at a 10 % "
    "margin. Give the contribution margin (margin= / --margin) to decide on profit."
)


def default_feature_builder(signals: Iterable[str]) -> FeatureBuilder:
    """Features for the built-in signals present in the data.

    ``complaints`` (count), ``wait_minutes`` (mean contact wait; 0 if never
    contacted, with ``wait_minutes_missing``), ``fcr_rate`` (first-contact
    resolution; 1 if never contacted), ``promoter`` (last NPS 9-10, with
    ``nps_missing``), ``csat_last`` (last CSAT, with its indicator) and
    ``ces_last`` (last customer-effort score, with its indicator).

    Examples
    --------
    >>> default_feature_builder(["complaint", "nps"]).features[0].name
    'complaints'
    """
    present = set(signals)
    features = []
    if "complaint" in present:
        features.append(count("complaint", name="complaints"))
    if "contact_wait_seconds" in present:
        features.append(mean("contact_wait_seconds", scale=60.0, name="wait_minutes", fill=0.0))
    if "contact_resolved_first" in present:
        features.append(
            rate(
                "contact_resolved_first",
                name="fcr_rate",
                fill=1.0,
                indicator="contact_wait_seconds" not in present,
            )
        )
    if "nps" in present:
        features.append(nps_groups(groups=("promoter",)))
    for signal in ("csat", "ces"):
        if signal in present:
            features.append(last(signal, name=f"{signal}_last", fill="mean"))
    if not features:
        raise DataError(
            [
                Problem(
                    "signal",
                    "no built-in CX signal found (complaint, "
                    "contact_wait_seconds, contact_resolved_first, nps, csat, ces)",
                    "pass a FeatureBuilder for your custom signals",
                )
            ],
            what="the CX events",
        )
    return FeatureBuilder(features)


@dataclass
class CXAnalysis:
    """Everything :func:`run_cx_roi` produced (see its steps)."""

    data: pd.DataFrame
    feature_builder: FeatureBuilder
    covariates: list[str]
    transaction_model: Any
    spend_model: Any
    plain_model: Any  # None without a holdout period or an acquisition model
    holdout: Any
    drivers: pd.DataFrame
    roi: Any
    portfolio: Any
    sensitivity: pd.DataFrame | None
    timings: dict[str, float] = field(default_factory=dict)
    contact_model: Any = None
    controls: list[str] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    timing: pd.DataFrame | None = None
    placebo: pd.DataFrame | None = None
    survey: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    holdout_segments: pd.DataFrame | None = None
    time_varying: bool = False
    time_varying_reason: str = ""
    time_varying_model: Any = None
    time_varying_data: Any = None
    paths: pd.DataFrame | None = None
    time_varying_drivers: pd.DataFrame | None = None
    spend_check: pd.DataFrame | None = None

    def model_notes(self) -> list[str]:
        """Sentences on the fit for the report."""
        from clv.roi._report_view import column_label

        notes = [
            f"Models: Pareto/NBD with CX covariates on purchases and dropout, Gamma-Gamma "
            f"with CX covariates on spend, fitted on {len(self.data):,} customers; "
            f"covariates: {', '.join(column_label(c) for c in self.covariates)}."
        ]
        notes[0] += (
            " Controls (customer attributes, never shifted): "
            + (", ".join(self.controls) or "none")
            + "."
        )
        if self.time_varying:
            m = self.time_varying_model
            cols = list(dict.fromkeys([*m.purchase_covariates, *m.dropout_covariates]))
            notes.append(
                "Time-varying models: the retention and repeat-purchase levers of the "
                "investments are valued with a Pareto/NBD on per-period CX paths "
                f"({', '.join(column_label(c) for c in cols)}; each period sees only "
                "earlier events, controls enter as constant paths) and investments change "
                "the future path from their start on (last observed values carried "
                f"forward otherwise), because {self.time_varying_reason}. Intervals "
                "reflect parameter uncertainty."
            )
        elif self.time_varying_reason:
            notes.append(f"Static covariate models: {self.time_varying_reason}.")
        if self.holdout is not None:
            s = self.holdout.summary
            better = s.loc["cx", "log_score"] > s.loc["plain", "log_score"]
            notes.append(
                "Holdout check: the CX model's log score of purchase incidence is "
                f"{s.loc['cx', 'log_score']:,.1f} against {s.loc['plain', 'log_score']:,.1f} "
                f"without CX (Brier {s.loc['cx', 'brier']:.4f} vs "
                f"{s.loc['plain', 'brier']:.4f}): the CX signals "
                + ("improve" if better else "do NOT improve")
                + " out-of-sample prediction."
                + (
                    " Some signals reveal who has already left (exit-signal diagnostic): "
                    "their holdout fit is no evidence of an effect."
                    if any("exit-signal" in w for w in self.warnings)
                    else ""
                )
            )
        cm = self.contact_model
        if cm is not None:
            ratios = ", ".join(
                f"{column_label(n[8:-1])} ×{r:.2f} per unit"
                for n, r in cm.summary()["rate_ratio"].items()
                if n.startswith("contact[")
            )
            notes.append(
                f"Cost to serve: repeat service contacts modelled on {cm.n_customers_:,} "
                f"customers with {cm.n_contacts_ + cm.n_customers_:,} contacts (Poisson rate, "
                f"robust errors, dispersion {cm.dispersion_:.2f})"
                + (f"; contact rate {ratios}" if ratios else "")
                + ". These are associations (evidence grade C)."
            )
        notes.extend(self.warnings)
        return notes


@overload
def _align_ids(frame: pd.DataFrame, col: str, like: pd.Series) -> pd.DataFrame: ...
@overload
def _align_ids(frame: None, col: str, like: pd.Series) -> None: ...
def _align_ids(frame: pd.DataFrame | None, col: str, like: pd.Series) -> pd.DataFrame | None:
    """Give ``frame[col]`` the type of the transactions' ids (files often differ: '17' vs 17)."""
    if frame is None or col not in frame.columns:
        return frame
    ids = frame[col]
    if pd.api.types.is_numeric_dtype(like) and not pd.api.types.is_numeric_dtype(ids):
        converted = pd.to_numeric(ids, errors="coerce")
        if converted.notna().all():
            return frame.assign(**{col: converted.astype(like.dtype, errors="ignore")})
    elif not pd.api.types.is_numeric_dtype(like) and pd.api.types.is_numeric_dtype(ids):
        return frame.assign(**{col: ids.astype(str)})
    return frame


def _check_shift_columns(
    investments: Sequence[Any], data: pd.DataFrame, acquisition_model: Any
) -> None:
    """Every shifted column is a feature, an attribute or a covariate of the acquisition model."""
    acq = (
        list(getattr(acquisition_model, "covariate_names_", []) or [])
        if acquisition_model is not None
        else []
    )
    problems = []
    for inv in investments:
        for shift in inv.shifts:
            if shift.column in data.columns or shift.column in acq:
                continue
            if acquisition_model is None:
                fix = (
                    "if it is a period covariate of new-customer arrivals (the acquisition "
                    "lever), give an acquisition model that has it: acquisition_model= and "
                    "acquisition_covariates= in Python, --acquisition model.json or "
                    "--new-customers counts.csv on the command line; otherwise shift a "
                    f"feature column ({', '.join(map(str, data.columns[:12]))}...)"
                )
            else:
                fix = (
                    f"shift a feature column or an acquisition covariate "
                    f"({', '.join(acq) or 'the acquisition model has none'})"
                )
            problems.append(
                Problem(
                    shift.column,
                    f"investment {inv.name!r} shifts "
                    f"{shift.column!r}, which is neither a CX feature, a customer "
                    "attribute nor a covariate of an acquisition model",
                    fix,
                )
            )
    if problems:
        raise DataError(problems, what="the investments")


def _step(progress: Callable[[str], None] | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _valuation_unit(period_length: float) -> Any:
    """The valuation period as a time unit: a month (12 a year) for ~30.44 days, else days."""
    days = float(period_length)
    if abs(days - DAYS_PER_MONTH) < 0.01:
        return parse_time_unit("M")
    return parse_time_unit(f"{days!r}D")


def run_cx_roi(
    transactions: pd.DataFrame,
    cx_events: pd.DataFrame,
    customers: pd.DataFrame | None,
    investments: Sequence[Any],
    *,
    cutoff: Any,
    observation_end: Any = None,
    customer_id_col: str = "customer_id",
    date_col: str = "date",
    value_col: str = "value",
    feature_builder: FeatureBuilder | None = None,
    horizon: int = 24,
    period_length: float = DAYS_PER_MONTH,
    annual_discount_rate: float | None = None,
    discount_rate_per_period: float | None = None,
    margin: float | None = None,
    discount_rate: float | None = None,
    n_draws: int = 100,
    budget: float | None = None,
    fund: str | Sequence[str] = ("fund",),
    random_state: int = 0,
    with_sensitivity: bool = True,
    acquisition_model: Any = None,
    acquisition_covariates: pd.DataFrame | None = None,
    acquisition_period_length: float | None = None,
    cost_per_contact: float | Mapping[str, float] | None = None,
    contact_channel_column: str | None = None,
    contact_covariates: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    controls: str | Sequence[str] | None = "auto",
    roles: Mapping[str, str] | None = None,
    causal_share: Any = "default",
    diagnostics: bool = True,
    progress_bars: bool | None = None,
    time_varying: bool | str = False,
    path_group: str | None = None,
    path_time_unit: str = "W",
) -> CXAnalysis:
    """Run the CX-to-ROI job (see the module docstring).

    Parameters
    ----------
    transactions : DataFrame
        One row per purchase (``customer_id_col``, ``date_col``, ``value_col``).
    cx_events : DataFrame
        Long CX table (``customer_id, timestamp, signal, value``).
    customers : DataFrame, optional
        Static attributes (kept as columns for investment targets).
    investments : sequence of Investment
    cutoff : date-like
        End of the calibration period: features and calibration purchases are
        strictly before it.
    observation_end : date-like, optional
        End of a holdout period for the model check (skip the check when None).
    feature_builder : FeatureBuilder, optional
        Default :func:`default_feature_builder` for the signals present.
    horizon, period_length, margin
        Valuation: ``horizon`` periods of ``period_length`` days (default 24
        months) and the contribution margin (share of spend). Not given: every
        value is **revenue** (margin 1), the finance table says so
        (``value_basis``), ``warnings`` carries a warning and ``fund`` needs the
        tested effects to pay back at a 10 % margin (:mod:`clv.roi.decision`).
    annual_discount_rate, discount_rate_per_period
        The discount rate: annual (default 10 % a year), converted exactly to
        the valuation period, or per valuation period as is.
    discount_rate : float, optional
        Deprecated name of ``discount_rate_per_period``.
    n_draws, random_state
        Parameter draws for every interval.
    budget : float, optional
        Portfolio budget (present value of costs). Without one no portfolio is
        chosen (``CXAnalysis.portfolio`` is None) and the report says so.
    fund : "all" or sequence of str, default ("fund",)
        Recommendations the budget may fund (:func:`clv.roi.select_portfolio`'s
        ``eligible``): by default only ``fund``.
    acquisition_model, acquisition_covariates : optional
        A fitted :class:`~clv.models.AcquisitionModel` with period covariates whose
        periods are the valuation periods, and its covariates for the ``horizon``
        future periods: investments that shift those covariates bring new
        customers (the acquisition lever), each worth the plain models' value of a
        new customer over the horizon.
    cost_per_contact : float or mapping, optional
        Cost of one service contact (currency), or per channel
        ``{"phone": 6.0, "web": 1.5, "default": 3.0}`` with the customer attribute
        ``contact_channel_column``. Turns on the service-cost lever: repeat contacts
        of customers who have contacted are modelled from the CX events
        (:class:`~clv.cx.contacts.ContactModel`, rate per day of customer life,
        covariates ``contact_covariates``, default the first-contact-resolution
        rate and the wait time when present), and values become net of their cost.
    progress, progress_bars
        ``progress(message)`` is called at each step; ``progress_bars`` shows
        tqdm bars over the investments and the sensitivity analysis (default:
        only in a notebook or a terminal).
    time_varying : {"auto", True, False}, default False
        Estimate the dropout and purchase levers with the time-varying
        Pareto/NBD on per-period CX paths (:func:`clv.cx.paths.feature_paths`,
        one-period lag; customer controls enter as constant paths) and value
        investments as changes of the future path from their ``start`` on
        (:mod:`clv.roi.paths`; modes ``restore`` and ``prevent`` need it). The
        events **allow** it when every event is dated (the schema requires a
        timestamp) and the per-period path of at least one actionable or
        reducible feature takes more than one value within customers for at
        least 5 % of the customers and at least 20 customers
        (:func:`clv.cx.timevarying.check_paths`); the builder must be able to
        make paths (no standardisation, no interaction of counts). ``"auto"``
        uses the time-varying models when allowed and otherwise the static ones,
        with the reason in :attr:`CXAnalysis.time_varying_reason`, the model
        notes and the progress messages; ``True`` raises :class:`DataError`
        with the reason when not allowed; ``False`` (the default for now: the
        time-varying fit takes about a minute per thousand customers with weekly
        paths): static models only.
        Intervals of the time-varying valuation reflect parameter uncertainty
        (the static engine also samples each customer's latent state).
    path_group : str, optional
        Customer attribute naming an operational unit (region, store, vendor):
        the paths are then the unit's pooled signals (e.g. the region's mean
        wait of the past week), which do not stop when a customer leaves; see
        :func:`clv.cx.paths.feature_paths`.
    path_time_unit : {"W", "D"}, default "W"
        Period of the paths and of the time-varying model.
    """
    if time_varying not in ("auto", True, False):
        raise ValueError(f"time_varying must be 'auto', True or False, got {time_varying!r}.")
    tv_mode = time_varying
    discount_rate = resolve_discount_rate(
        annual_discount_rate=annual_discount_rate,
        discount_rate_per_period=discount_rate_per_period,
        discount_rate=discount_rate,
        time_unit=_valuation_unit(period_length),
        stacklevel=2,
    ).per_period
    import time

    from clv.cx.schema import validate_cx_events
    from clv.data import calibration_holdout_split, rfm_summary
    from clv.holdout import evaluate_holdout
    from clv.models import GammaGammaModel, ParetoNBDModel
    from clv.roi import evaluate_investments, select_portfolio, sensitivity

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    cut = pd.Timestamp(cutoff)
    _step(progress, "building CX features")
    like = transactions[customer_id_col]
    cx_events = _align_ids(cx_events, "customer_id", like)
    customers = _align_ids(customers, customer_id_col, like)
    events = validate_cx_events(cx_events)
    fb = feature_builder or default_feature_builder(events["signal"].unique())
    # without a customers table, every customer of the transaction log gets features
    ids = None if customers is not None else pd.Index(pd.unique(like.dropna()))
    X = fb.fit_transform(events, customers, cutoff=cut, customer_ids=ids)
    timings["features"] = time.perf_counter() - t0
    _step(progress, "summarising transactions")
    t = time.perf_counter()
    last_moment = cut - pd.Timedelta(microseconds=1)
    if observation_end is not None:
        rfm = calibration_holdout_split(
            transactions,
            customer_id_col=customer_id_col,
            date_col=date_col,
            value_col=value_col,
            calibration_end=last_moment,
            observation_end=pd.Timestamp(observation_end),
            time_unit="D",
        )
    else:
        before = transactions[pd.to_datetime(transactions[date_col]) < cut]
        rfm = rfm_summary(
            before,
            customer_id_col=customer_id_col,
            date_col=date_col,
            value_col=value_col,
            time_unit="D",
            observation_end=last_moment,
        )
    covariates = list(X.columns)
    data = rfm.join(X, how="left")
    missing = data[covariates].isna().any(axis=1)
    if missing.any():
        raise DataError(
            [
                Problem(
                    customer_id_col,
                    f"{int(missing.sum())} customers with purchases "
                    "have no row in the customers table",
                    "add every purchasing customer to the customers table",
                    rows=list(data.index[missing][:5]),
                )
            ],
            what="the customers table",
        )
    control_names: list[str] = []
    if customers is not None:
        attrs = (
            customers.set_index(customer_id_col)
            if customer_id_col in customers.columns
            else customers
        )
        extra = [c for c in attrs.columns if c not in data.columns]
        data = data.join(attrs[extra], how="left")
        chosen = control_columns(attrs.reset_index(), customer_id_col, controls)
        encoded = encode_controls(data, chosen)
        control_names = list(encoded.columns)
        data = data.drop(columns=[c for c in control_names if c in data.columns]).join(encoded)
        covariates = covariates + control_names
    data.attrs["time_unit"] = "D"
    _check_shift_columns(investments, data, acquisition_model)
    role_map = default_roles(covariates, control_names)
    # a customer attribute whose effect an investment takes from a randomised (or
    # quasi-) experiment is a treatment that was assigned, not a confounder: it may be shifted
    for inv in investments:
        for name in inv.evidence.coefficients:
            column = (coefficient_parts(name) or ("", ""))[1]
            if role_map.get(column) == "control" and inv.evidence.coefficient_grade(name) in (
                "A",
                "B",
            ):
                role_map[column] = "actionable"
    role_map.update(dict(roles or {}))
    check_shifts(investments, role_map, data)
    timings["summary"] = time.perf_counter() - t
    _step(progress, "fitting Pareto/NBD and Gamma-Gamma with CX covariates")
    t = time.perf_counter()
    varying = [c for c in covariates if data[c].nunique() > 1]
    tm = ParetoNBDModel(purchase_covariates=varying, dropout_covariates=varying)
    fit_notes = [f"Pareto/NBD with CX covariates: {n}" for n in fit_with_notes(tm, data)]
    # the plain model serves the holdout comparison and the value of a new customer only
    plain = None
    if observation_end is not None or acquisition_model is not None:
        plain = ParetoNBDModel()
        fit_notes += [f"Pareto/NBD without covariates: {n}" for n in fit_with_notes(plain, data)]
    repeat = data[data["frequency"] > 0]
    spend_cov = [c for c in varying if repeat[c].nunique() > 1]
    sm = GammaGammaModel(spend_covariates=spend_cov)
    fit_notes += [f"Gamma-Gamma with CX covariates: {n}" for n in fit_with_notes(sm, data)]
    timings["fit"] = time.perf_counter() - t
    holdout = None
    holdout_segments = None
    if observation_end is not None:
        _step(progress, "checking the models on the holdout period")
        holdout = evaluate_holdout({"plain": plain, "cx": tm}, data)
        holdout_segments = _holdout_by_segment(
            evaluate_holdout, {"plain": plain, "cx": tm}, data, customers, customer_id_col, controls
        )
    _step(progress, "driver analysis")
    t = time.perf_counter()
    driver_table = drivers(
        tm,
        sm,
        data,
        horizon=horizon,
        discount_rate=discount_rate,
        margin=DEFAULT_MARGIN if margin is None else margin,
        n_draws=max(2, n_draws // 2),
        random_state=random_state,
        period_length=period_length,
        skip_clv_change=control_names,
    )
    timings["drivers"] = time.perf_counter() - t
    warnings_: list[str] = list(dict.fromkeys(fit_notes))
    if margin is None:
        warnings_.append(REVENUE_WARNING)
    timing = placebo = survey = spend_check = None
    flags: dict[str, list[str]] = {}
    if diagnostics:
        _step(progress, "diagnostics: event timing, placebo, survey weighting")
        t = time.perf_counter()
        from clv.cx import diagnostics as diag

        before = transactions[pd.to_datetime(transactions[date_col]) < cut]
        timing = diag.event_timing(
            events, before, cutoff=cut, customer_id_col=customer_id_col, date_col=date_col
        )
        placebo = diag.placebo_check(
            events,
            before,
            fb,
            cutoff=cut,
            controls=data[control_names] if control_names else None,
            customer_id_col=customer_id_col,
            date_col=date_col,
        )
        signal_columns: dict[str, list[str]] = {}
        for f in fb.features:
            if f.signal is not None:
                signal_columns.setdefault(f.signal, []).extend(f.columns())
        spend_check = diag.spend_robustness(sm, data)
        flags = diag.column_flags(timing, placebo, signal_columns, spend_check)
        if spend_check is not None and spend_check["flag"].any():
            warnings_.append(
                "Spend effects of "
                + ", ".join(map(str, spend_check.index[spend_check["flag"]]))
                + " are significant in the Gamma-Gamma but not in a distribution-free fit of "
                "mean spend (CXAnalysis.spend_check): treat them with caution."
            )
        survey = diag.survey_weighting(data, tm)
        for _, r in survey.iterrows():
            if abs(r["change_in_se"]) >= 1.0:
                warnings_.append(
                    f"Survey selection: weighting respondents by their response propensity "
                    f"moves {r['coefficient_name']} from {r['unweighted']:+.3f} to "
                    f"{r['weighted']:+.3f} ({r['change_in_se']:+.1f} SE); treat survey "
                    "effects with caution."
                )
                for col in ("promoter", "detractor", "csat_last"):
                    if col in r["coefficient_name"]:
                        flags.setdefault(col, []).append(
                            f"survey-selection: response weighting moves "
                            f"{r['coefficient_name']} by {r['change_in_se']:+.1f} SE"
                        )
        for col, items in flags.items():
            for item in items:
                text = f"Diagnostic for {col}: {item}."
                if text not in warnings_:
                    warnings_.append(text)
        timings["diagnostics"] = time.perf_counter() - t
    _annotate_drivers(driver_table, role_map, flags, data, control_names)
    new_customers = None
    if acquisition_model is not None:
        from clv.equity import new_customer_value
        from clv.roi import NewCustomers

        if acquisition_covariates is None:
            raise ValueError(
                "acquisition_covariates (the future periods' covariates) are "
                "needed with acquisition_model."
            )
        plain_spend = GammaGammaModel().fit(data)
        per_day = (1.0 + discount_rate) ** (1.0 / period_length) - 1.0
        value = new_customer_value(
            plain,
            plain_spend,
            horizon=round(horizon * period_length),
            discount_rate_per_period=per_day,
            margin=DEFAULT_MARGIN if margin is None else margin,
        )
        acq_days = (
            period_length if acquisition_period_length is None else float(acquisition_period_length)
        )
        if not acq_days > 0:
            raise ValueError(f"acquisition_period_length must be > 0 days, got {acq_days!r}.")
        new_customers = NewCustomers(
            acquisition_model,
            acquisition_covariates,
            float(value),
            periods_per_valuation=period_length / acq_days,
        )
    contact_model, service = None, None
    if cost_per_contact is not None:
        _step(progress, "modelling repeat service contacts (cost to serve)")
        contact_model, service = _service_cost(
            events, data, cut, varying, cost_per_contact, contact_channel_column, contact_covariates
        )
    from clv.roi.confounding import CausalShare

    share = (
        CausalShare()
        if isinstance(causal_share, str) and causal_share == "default"
        else causal_share
    )
    tv: dict[str, Any] | None = None
    tv_reason = ""
    if tv_mode is not False:
        _step(progress, "per-period CX paths for the time-varying models")
        t = time.perf_counter()
        tv, tv_reason = _time_varying_branch(
            fb,
            events,
            transactions,
            customers,
            data,
            cut,
            role_map,
            control_names,
            path_group,
            path_time_unit,
            new_customers is not None or service is not None,
            customer_id_col,
            date_col,
            tm,
        )
        timings["time_varying"] = time.perf_counter() - t
        if tv is None and tv_mode is True:
            raise DataError(
                [
                    Problem(
                        None,
                        f"time_varying=True, but the time-varying models cannot be used: "
                        f"{tv_reason}",
                        "give dated CX events whose features change within customers over "
                        "time (e.g. windowed features: mean wait of the last 28 days), a "
                        "path_group for pooled unit signals, or use time_varying='auto' / "
                        "False for the static models",
                    )
                ],
                what="the CX events",
            )
        if tv is None:
            _step(progress, f"time-varying models not used ({tv_reason}): static models")
        else:
            _step(progress, f"time-varying models used: {tv_reason}")
    if tv is not None:
        warnings_.extend(f"Time-varying fit: {note}" for note in tv["notes"])
    if tv is None:
        path_invs = [inv.name for inv in investments if inv.uses_paths]
        if path_invs:
            raise DataError(
                [
                    Problem(
                        "mode",
                        f"investments {path_invs} restore or prevent a change of the "
                        "covariate path, which needs the time-varying models; they are not "
                        f"used here ({tv_reason or 'time_varying=False'})",
                        "use time_varying=True with dated CX events (clv roi "
                        "--time-varying), or shift with add/relative/set",
                    )
                ],
                what="the investments",
            )
        investments = [_static_start(inv, cut, period_length) for inv in investments]
    _step(progress, f"valuing {len(investments)} investments over {n_draws} parameter draws")
    t = time.perf_counter()
    valuation: dict[str, Any] = {
        "spend_model": sm,
        **engine_settings(horizon, discount_rate, margin, n_draws, random_state, period_length),
        "causal_share": share,
        "progress": progress_bars,
    }
    if tv is not None:
        from clv.roi.paths import evaluate_path_investments

        roi = evaluate_path_investments(
            investments,
            transaction_model=tv["model"],
            data=data.reindex(tv["data"].customer_ids),
            tv_data=tv["data"],
            paths=tv["paths"],
            data_time_unit="D",
            customer_id_col=customer_id_col,
            **valuation,
        )
    else:
        roi = evaluate_investments(
            investments,
            transaction_model=tm,
            data=data,
            new_customers=new_customers,
            service_cost=service,
            **valuation,
        )
    roi.column_flags = flags
    # a control an experiment turned into a treatment (role actionable) is no confounder benchmark
    roi.benchmark = _strongest_control(
        tm, data, [c for c in control_names if role_map.get(c, "control") == "control"]
    )
    timings["roi"] = time.perf_counter() - t
    pf = None if budget is None else select_portfolio(roi, float(budget), eligible=fund)
    sens = None
    if with_sensitivity:
        _step(progress, "sensitivity analysis")
        t = time.perf_counter()
        sens = sensitivity(roi, progress=progress_bars)
        timings["sensitivity"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    if holdout_segments is not None:
        worse = holdout_segments[holdout_segments["cx_minus_plain"] < 0]
        if len(worse):
            warnings_.append(
                "Holdout by segment: the CX model predicts WORSE than the plain model for "
                + ", ".join(f"{r.control}={r.level}" for r in worse.itertuples())
                + "; its CX effects may not hold there."
            )
    table = roi.table()
    for _, r in table.iterrows():
        if r["diagnostics"] and "direction:" in r["diagnostics"]:
            warnings_.append(
                f"Investment {r['investment']!r}: "
                + r["diagnostics"].split("direction: ", 1)[1]
                + "."
            )
    return CXAnalysis(
        data,
        fb,
        varying,
        tm,
        sm,
        plain,
        holdout,
        driver_table,
        roi,
        pf,
        sens,
        timings,
        contact_model,
        controls=[c for c in control_names if c in varying],
        roles=role_map,
        timing=timing,
        placebo=placebo,
        survey=survey,
        warnings=warnings_,
        holdout_segments=holdout_segments,
        time_varying=tv is not None,
        time_varying_reason=tv_reason,
        time_varying_model=None if tv is None else tv["model"],
        time_varying_data=None if tv is None else tv["data"],
        paths=None if tv is None else tv["paths"],
        time_varying_drivers=None if tv is None else tv["drivers"],
        spend_check=spend_check,
    )


def _static_start(inv: Any, cut: pd.Timestamp, period_length: float) -> Any:
    """The investment with a start date turned into whole valuation periods after the cutoff."""
    import dataclasses

    if inv.start is None or isinstance(inv.start, int):
        return inv
    days = (pd.Timestamp(inv.start) - cut) / pd.Timedelta(days=1)
    if days < 0:
        raise DataError(
            [
                Problem(
                    "start",
                    f"investment {inv.name!r} starts on {inv.start}, before the cutoff "
                    f"{cut.date()}: an investment changes the future only",
                    "start at or after the cutoff (or give periods after it)",
                )
            ],
            what="the investments",
        )
    return dataclasses.replace(inv, start=round(days / float(period_length)))


def _time_varying_branch(
    fb: FeatureBuilder,
    events: pd.DataFrame,
    transactions: pd.DataFrame,
    customers: pd.DataFrame | None,
    data: pd.DataFrame,
    cut: pd.Timestamp,
    roles: Mapping[str, str],
    controls: Sequence[str],
    group_col: str | None,
    time_unit: str,
    other_levers: bool,
    customer_id_col: str,
    date_col: str,
    static_model: Any = None,
) -> tuple[dict[str, Any] | None, str]:
    """Paths, the check and the time-varying fit; ``(None, reason)`` when not allowed."""
    from clv.cx import timevarying as tvmod

    if other_levers:
        return None, (
            "the acquisition and cost-to-serve levers are valued by the static engine only"
        )
    group = None
    if group_col is not None:
        if customers is None or group_col not in customers.columns:
            raise DataError(
                [
                    Problem(
                        group_col,
                        "path_group is not a column of the customers table",
                        "name a customer attribute such as the region",
                    )
                ],
                what="the customers table",
            )
        group = customers.set_index(customer_id_col)[group_col]
    paths, why = tvmod.build_paths(
        fb,
        events,
        transactions,
        customers,
        cutoff=cut,
        controls=data[list(controls)] if controls else None,
        time_unit=time_unit,
        group=group,
        customer_id_col=customer_id_col,
        date_col=date_col,
    )
    features = [c for c in fb.feature_names_ if roles.get(c) != "control"]
    shiftable = [c for c in features if roles.get(c, "actionable") in ("actionable", "reducible")]
    check = tvmod.check_paths(paths, shiftable, customer_id_col=customer_id_col, reason=why)
    if not check.allowed:
        return None, check.reason
    assert paths is not None
    model, tv_data, notes = tvmod.fit_paths(
        transactions,
        paths,
        [*features, *controls],
        cutoff=cut,
        time_unit=time_unit,
        customer_id_col=customer_id_col,
        date_col=date_col,
        start_from=static_model,
    )
    if not np.all(np.isfinite(model.covariance_.to_numpy())):
        return None, "the time-varying fit gave no parameter covariance (" + " ".join(notes) + ")"
    drivers_tv = tvmod.time_varying_drivers(model, paths, features)
    out = {"model": model, "data": tv_data, "paths": paths, "drivers": drivers_tv, "notes": notes}
    return out, check.reason


CONTACTS_COLUMN = "service_contacts"
_CONTACT_QUALITY = ("fcr_rate", "wait_minutes", "ces_last")


def _service_cost(
    events: pd.DataFrame,
    data: pd.DataFrame,
    cut: pd.Timestamp,
    varying: Sequence[str],
    cost_per_contact: Any,
    channel_column: str | None,
    covariates: Sequence[str] | None,
) -> tuple[Any, Any]:
    """Fit the repeat-contact model and build the engine's :class:`ServiceCost`.

    Adds ``service_contacts`` (contacts before the cutoff) to ``data``. The model is fitted
    on customers with at least one contact: repeat contacts (all but the first) per day of
    customer life (``T + 1`` days), since the contact-quality features (resolution rate,
    wait) exist only for them.
    """
    from clv.cx.contacts import ContactModel, count_contacts
    from clv.roi import ServiceCost

    counts = count_contacts(events, cut).reindex(data.index, fill_value=0)
    if counts.sum() == 0:
        raise DataError(
            [
                Problem(
                    "signal",
                    "cost_per_contact was given but there are no "
                    "contact events (contact_wait_seconds or "
                    "contact_resolved_first) before the cutoff",
                    "add the contacts or drop the cost per contact",
                )
            ],
            what="the CX events",
        )
    data[CONTACTS_COLUMN] = counts.to_numpy(dtype=np.float64)
    contacted = data[data[CONTACTS_COLUMN] > 0]
    if covariates is None:
        covariates = [c for c in _CONTACT_QUALITY if c in varying and contacted[c].nunique() > 1]
    else:
        unknown = [c for c in covariates if c not in data.columns]
        if unknown:
            raise DataError(
                [
                    Problem(
                        c,
                        "contact covariate is not a feature or attribute",
                        f"choose from {list(varying)}",
                    )
                    for c in unknown
                ],
                what="the contact model",
            )
    model = ContactModel(list(covariates)).fit(
        contacted[CONTACTS_COLUMN] - 1.0, contacted["T"] + 1.0, contacted
    )
    return model, ServiceCost(model, cost_per_contact, channel_column, CONTACTS_COLUMN)


def _holdout_by_segment(
    evaluate: Callable[..., Any],
    models: dict[str, Any],
    data: pd.DataFrame,
    customers: pd.DataFrame | None,
    id_col: str,
    controls: Any,
    min_customers: int = 200,
) -> pd.DataFrame | None:
    """The holdout comparison within each level of each categorical control attribute.

    Columns: ``control``, ``level``, ``customers``, ``log_score_cx``,
    ``log_score_plain`` and ``cx_minus_plain`` (holdout log score per customer).
    """
    if customers is None:
        return None
    attrs = customers.drop(columns=[id_col], errors="ignore")
    rows = []
    for col in control_columns(customers, id_col, controls):
        if col not in data.columns or pd.api.types.is_numeric_dtype(attrs[col]):
            continue
        for level, part in data.groupby(data[col].astype("string"), sort=True):
            if len(part) < min_customers:
                continue
            s = evaluate(models, part).summary
            cx, plain = float(s.loc["cx", "log_score"]), float(s.loc["plain", "log_score"])
            rows.append(
                {
                    "control": col,
                    "level": level,
                    "customers": len(part),
                    "log_score_cx": cx,
                    "log_score_plain": plain,
                    "cx_minus_plain": (cx - plain) / len(part),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "control",
            "level",
            "customers",
            "log_score_cx",
            "log_score_plain",
            "cx_minus_plain",
        ],
    )


def _strongest_control(
    model: Any, data: pd.DataFrame, controls: Sequence[str]
) -> tuple[str, float] | None:
    """The observed control with the largest rate ratio per SD on any lever (a benchmark
    for "an ordinary confounder")."""
    import numpy as np

    best: tuple[str, float] | None = None
    for name, value in model.params_.items():
        name = str(name)
        if "[" not in name:
            continue
        col = name[:-1].split("[", 1)[1]
        if col not in controls:
            continue
        sd = float(np.nanstd(data[col].to_numpy(dtype=np.float64)))
        rr = float(np.exp(abs(float(value)) * sd))
        if best is None or rr > best[1]:
            best = (col, rr)
    return best


def _annotate_drivers(
    table: pd.DataFrame,
    roles: Mapping[str, str],
    flags: Mapping[str, list[str]],
    data: pd.DataFrame,
    controls: Sequence[str],
) -> None:
    """Role, diagnostics and E-values (per SD and for the interval bound) of each driver row."""
    import numpy as np

    from clv.roi.confounding import evalue

    table["role"] = table["signal"].map(lambda c: roles.get(c, "actionable"))
    table["diagnostics"] = table["signal"].map(lambda c: "; ".join(flags.get(c, [])))
    per_sd = table["effect_per_sd"].to_numpy(dtype=np.float64)
    lo = table["effect_per_sd_lo"].to_numpy(dtype=np.float64)
    hi = table["effect_per_sd_hi"].to_numpy(dtype=np.float64)
    bound = np.where(lo > 1, lo, np.where(hi < 1, hi, 1.0))
    grade_c = table["evidence_grade"].to_numpy() == "C"
    table["evalue_per_sd"] = np.where(grade_c, evalue(per_sd), np.nan)
    table["evalue_ci"] = np.where(grade_c, evalue(bound), np.nan)
    if "clv_change_pct" in table.columns:
        table["clv_change_basis"] = np.where(grade_c, "if fully causal", "evidence")
