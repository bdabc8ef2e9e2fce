# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Experience investments and ROI, for finance
#
# Which customer-experience investments pay back, with what certainty, and
# through which lever? This notebook values five candidate investments on the
# simulated customer base of `04_cx_drivers` (10,000 customers with known true
# CX effects):
#
# 1. fit the CX-covariate models (Pareto/NBD and Gamma-Gamma, in days),
# 2. specify investments in Python and in a TOML file,
# 3. evaluate: finance table, ROI intervals, lever split, payback,
# 4. choose a portfolio under a budget (expected NPV and a risk-averse CVaR variant),
# 5. sensitivity (tornado), and an investment backed by an experiment,
# 6. write the HTML report and CSV tables,
# 7. check the model's counterfactual against the simulation's truth,
# 8. a world built to fool the analysis (a hidden segment): why the tool does not
#    say `fund`, and the experiment that settles it.
#
# The principle: an investment changes CX signals **from now on**. Each
# customer's history stays what it was; only their future purchase rate, dropout
# rate and spend are multiplied by $e^{\gamma^\top \Delta x_i}$, period by
# period.

# %%
import dataclasses
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from clv.data import calibration_holdout_split
from clv.models import GammaGammaModel, ParetoNBDModel
from clv.roi import (
    Evidence,
    Investment,
    Shift,
    evaluate_investments,
    load_investments,
    period_rate,
    select_portfolio,
    sensitivity,
    write_report,
    write_tables,
)
from clv.roi.plots import plot_tornado
from clv.synth import COVARIATES, simulate_cx_world

pd.set_option("display.max_columns", 30)
pd.set_option("display.width", 160)

# %%
world = simulate_cx_world(10_000, seed=7)
features = world.feature_builder().fit_transform(world.cx_events, world.customers,
                                                 cutoff=world.calibration_end)
split = calibration_holdout_split(
    world.transactions, customer_id_col="customer_id", date_col="date", value_col="value",
    calibration_end=world.calibration_end - pd.Timedelta(seconds=1),
    observation_end=world.truth.observation_end, time_unit="D")
# the scoring frame: RFM, CX features and customer attributes (for targeting)
data = split.join(features).join(world.customers.set_index("customer_id"))
covariates = list(COVARIATES)
transactions_model = ParetoNBDModel(purchase_covariates=covariates,
                                    dropout_covariates=covariates).fit(data)
spend_model = GammaGammaModel(spend_covariates=covariates).fit(data)
print(f"{len(data):,} customers; log-likelihood {transactions_model.log_likelihood_:,.1f}")

# %% [markdown]
# ## 1. The investments
#
# Each `Investment` has a **cost** (one-off at period 0, or a schedule
# `{period: amount}`), a **target** (everyone, a segment or a pandas query on
# the scoring frame), the **shifts** of CX signals it buys (`add`, `relative` or
# `set`), how fast the effect builds up (`ramp_periods`) and lasts
# (`duration`), and its **evidence** (observational by default: the fitted
# coefficients, grade C). Shifts never touch a filled-in missing value
# (`<signal>_missing == 1`) and are clipped to the observed range.
#
# Three are written in Python:

# %%
in_python = [
    Investment("Faster support", cost=8_000, target="wait_minutes_missing == 0",
               shifts=[Shift("wait_minutes", "relative", -0.3)], ramp_periods=3,
               description="More agents at peak hours: 30 % shorter waits"),
    Investment("Complaint recovery", cost=5_000, target="complaints > 0",
               shifts=[Shift("complaints", "relative", -0.5)],
               description="Call back every complainant within a day"),
    Investment("First-contact resolution", cost=6_000,
               target="wait_minutes_missing == 0 and fcr_rate < 1",
               shifts=[Shift("fcr_rate", "add", 0.15)], ramp_periods=6,
               description="Agent training and a knowledge base"),
]

# %% [markdown]
# and two come from a TOML file (finance teams can keep the list in a
# spreadsheet instead: `load_investments` also reads CSV, YAML and JSON):

# %%
spec = """
[[investments]]
name = "Promoter programme"
cost = 15000
description = "Personalised thank-you and early access for survey respondents"
target = "nps_missing == 0"
shifts = [{column = "promoter", mode = "set", amount = 1.0}]

[[investments]]
name = "Onboarding care"
description = "A welcome call in the first month, paid over two months"
cost = {0 = 1500, 1 = 1500}
ramp_periods = 2
shifts = [
  {column = "complaints", mode = "relative", amount = -0.2},
  {column = "fcr_rate", mode = "add", amount = 0.05},
]
"""
workdir = Path(tempfile.mkdtemp(prefix="clv-roi-"))
(workdir / "investments.toml").write_text(spec)
from_toml = load_investments(workdir / "investments.toml")
investments = in_python + from_toml
pd.DataFrame([{"name": i.name, "cost": sum(i.cost_schedule.values()), "target": i.target,
               "shifts": "; ".join(f"{s.column} {s.mode} {s.amount:g}" for s in i.shifts),
               "ramp": i.ramp_periods, "grade": i.grade} for i in investments])

# %% [markdown]
# ## 2. Evaluate
#
# Cash flows are valued **monthly** (`period_length=30.4375` days, as the model
# is fitted in days) over 24 months, discounted at 10 % a year, with a 30 %
# contribution margin. Uncertainty: 60 draws of the model parameters from the
# MLE's asymptotic normal, **shared by all investments** (common random
# numbers), so differences between investments are not Monte Carlo noise.
#
# In this simulated world the CX effects are causal by construction, so sections
# 2 to 7 value the fitted associations **as if fully causal**
# (`causal_share=None`) to show the mechanics. By default `evaluate_investments`
# values every fitted (grade C) effect under a prior on its causal share
# (Beta(1, 1), half on average; the `*_if_causal` columns keep the optimistic
# value), and section 8 shows why on a world where the association is not an
# effect.

# %%
settings = {"transaction_model": transactions_model, "spend_model": spend_model,
            "data": data, "horizon": 24, "discount_rate": period_rate(0.10, 12),
            "margin": 0.3, "period_length": 30.4375, "n_draws": 60, "causal_share": None}
result = evaluate_investments(investments, **settings)
result

# %% [markdown]
# The finance table (money: present values in the currency of the transactions;
# `_p05`/`_p95`: 90 % interval over parameter draws; `payback_median` in months,
# NaN if the median draw does not pay back within 24 months;
# `breakeven_effect`: share of the estimated effect needed for an expected NPV of
# zero; `gain_*`: the Shapley split of the incremental CLV over the levers):

# %%
table = result.table()
money = ["cost_pv", "incremental_clv_mean", "incremental_clv_p05", "incremental_clv_p95",
         "npv_mean", "npv_p05", "npv_p95", "expected_loss", "gain_retention",
         "gain_repeat_purchase", "gain_spend"]
shares = ["roi_mean", "roi_p05", "roi_p95", "p_roi_positive", "p_payback_within_horizon",
          "breakeven_effect", "p_rank_1"]
(table.drop(columns=["evidence", "gain_acquisition"])
 .round({**dict.fromkeys(money, 0), **dict.fromkeys(shares, 2)}).T)

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")
result.plot("roi", ax=axes[0])
result.plot("levers", ax=axes[1]);

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")
result.plot("payback", ax=axes[0])
result.plot("npv", ax=axes[1]);

# %%
best = table["investment"].iloc[0]
result.cash_flow_table(best).iloc[[0, 2, 5, 11, 17, 23]].round(0)

# %% [markdown]
# Three investments pay back in expectation with high probability (promoter
# programme, faster support, complaint recovery); onboarding care is a
# borderline case (break-even at about 110 % of the estimated effect) and
# first-contact resolution does not pay back. Note the promoter programme's
# small *negative* retention part: it comes from a noisy dropout coefficient
# for `promoter` whose true value is 0, a reminder that every lever estimate
# has its interval.
#
# Read `breakeven_effect` as the answer to "how much of this association must be
# causal?": an investment with a break-even share of 40 % still pays back if
# the true effect is less than half the observational estimate; one above 100 %
# needs a larger effect than estimated.
#
# ## 3. Portfolio under a budget
#
# `select_portfolio` picks the best subset within a budget (present value of
# costs) with an exact 0/1 integer programme over the shared draws, then values
# the chosen set **jointly** (the shifts of all chosen investments applied
# together). The CVaR variant maximises expected NPV minus the expected loss in
# the worst 10 % of draws, so it prefers safer sets.
#
# By default the budget funds only investments recommended `fund`, i.e. whose
# *tested* effects pay back. All five here rest on fitted associations (grade C),
# so the default portfolio is empty, and `not_funded` says why for each:

# %%
budget = 20_000
strict = select_portfolio(result, budget)
print(strict.label, "->", strict.chosen)
pd.Series(strict.not_funded, name="why not funded")

# %% [markdown]
# To see how the selection works, we let the budget fund every investment
# whatever its recommendation (`eligible="all"`); the portfolio labels itself
# as not a funding decision on evidence:

# %%
portfolios = {"expected NPV": select_portfolio(result, budget, eligible="all"),
              "CVaR (risk-averse)": select_portfolio(result, budget, objective="cvar",
                                                     eligible="all")}
pd.DataFrame({k: p.summary() for k, p in portfolios.items()})

# %% [markdown]
# Here both objectives fund the same pair: even the worst draws of this set
# are profitable, so penalising the tail changes nothing (with riskier
# candidates the CVaR objective gives up some expected NPV for a safer set).
# `additive_npv_mean` sums the separate NPVs; `npv_mean` is the joint value
# (effects on the same rates interact multiplicatively), and
# `marginal_value_per_step` is the gain from 1 % more budget.
#
# ## 4. Sensitivity
#
# One setting at a time moves to a low and a high value (margin ±20 %,
# discount rate ×0.5/×1.5, horizon 12/36 months, effect size 50 %/150 %), each
# re-using the shared draws.

# %%
sens = sensitivity(result)
sens[sens["investment"] == best].round({"low": 4, "high": 4, "npv_low": 0, "npv_high": 0,
                                        "npv_base": 0, "swing": 0})

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4), layout="constrained")
plot_tornado(sens, best, ax=axes[0])
plot_tornado(sens, "Complaint recovery", ax=axes[1]);

# %% [markdown]
# ## 5. An investment backed by an experiment
#
# The observational fit gives first-contact resolution a *negative* purchase
# coefficient (noise: its true value is 0) next to a strong dropout effect.
# Suppose a randomised pilot measured both effects per unit of the FCR rate:
# dropout −0.6 (se 0.15) and purchase 0.0 (se 0.05). The same investment with
# this evidence is grade A, and its value uses the experimental effects:

# %%
fcr = next(i for i in investments if i.name == "First-contact resolution")
tested = dataclasses.replace(
    fcr, name="First-contact resolution (piloted)",
    evidence=Evidence.experiment({"dropout[fcr_rate]": (-0.6, 0.15),
                                  "purchase[fcr_rate]": (0.0, 0.05)},
                                 source="FCR pilot, 6 branches randomised"))
both = evaluate_investments([fcr, tested], **settings)
both.table().set_index("investment")[[
    "evidence_grade", "cost_pv", "incremental_clv_mean", "incremental_clv_p05",
    "incremental_clv_p95", "npv_mean", "p_roi_positive", "gain_retention",
    "gain_repeat_purchase", "breakeven_effect"]].round(2).T

# %% [markdown]
# The pilot removes the spurious negative purchase effect, so the expected gain
# turns positive, but it stays far below the cost (about an eighth of it; even
# 64 times the piloted shift would not break even, `breakeven_effect` inf: many
# contacts are already resolved at the first attempt, and the FCR rate cannot
# exceed 1). With grade A
# evidence that is a firm "no", not a "test first".

# %% [markdown]
# ## 6. The report for finance
#
# `write_report` writes one self-contained HTML file (tables, figures as
# embedded images, the valuation settings, the evidence grade of every
# investment and its meaning); `write_tables` the same numbers as CSV.

# %%
report = write_report(result, workdir / "roi_report.html", sensitivity=sens,
                      portfolio=portfolios["expected NPV"], currency="EUR")
csvs = write_tables(result, workdir, sensitivity=sens, portfolio=portfolios["expected NPV"])
print(report, f"({report.stat().st_size / 1024:.0f} kB)")
for path in csvs:
    print(path)

# %% [markdown]
# ## 7. Model versus truth
#
# The simulation can say what would really happen. `world.truth.expected_purchases`
# gives each customer's true expected purchases over a horizon (in weeks) under
# an additive shift of a covariate, given their true latent rates. For *Faster
# support* without ramp-up, compare the incremental expected purchases over 24
# months: the model's (a spend of 1 per purchase, margin 1, no discounting makes
# "incremental CLV" a count of purchases) against the truth.

# %%
faster = dataclasses.replace(next(i for i in investments if i.name == "Faster support"),
                             ramp_periods=0)
counts = evaluate_investments([faster], transaction_model=transactions_model, spend_model=1.0,
                              data=data, horizon=24, discount_rate=0.0, margin=1.0,
                              period_length=30.4375, n_draws=60, breakeven=False,
                              causal_share=None)
model_gain = counts.investments["Faster support"].incremental_clv

weeks = 24 * 30.4375 / 7
contacted = features["wait_minutes_missing"] == 0
change = (-0.3 * features["wait_minutes"]).where(contacted, 0.0)
true_base = world.truth.expected_purchases(weeks)
true_gain = world.truth.expected_purchases(weeks, shift={"wait_minutes": change}).sum() \
    - true_base.sum()
pd.Series({
    "true expected purchases, 24 months": true_base.sum(),
    "true gain from faster support": true_gain,
    "model gain (mean)": model_gain.mean(),
    "model gain 5 %": np.quantile(model_gain, 0.05),
    "model gain 95 %": np.quantile(model_gain, 0.95),
}).round(0)

# %% [markdown]
# ## 8. A world built to fool the analysis, and the test that settles it
#
# `clv.synth.traps` simulates customer bases where the association between
# experience and behaviour is **not** an effect. In `segment_hidden`, premium
# customers (30 %) get shorter waits *and* buy more and stay longer, but the
# tier is not in the data: waits have no causal effect at all, so the true
# value of faster support is 0. We run the whole job (`run_cx_roi`: features,
# models, diagnostics, causal-share prior, recommendation) and compare with the
# world's oracle (`true_value`).

# %%
from clv.cx.analysis import DAYS_PER_MONTH, run_cx_roi
from clv.synth.traps import TRAP_WORLDS, simulate_trap_world

trap = simulate_trap_world("segment_hidden", 3000, seed=1)
print(TRAP_WORLDS["segment_hidden"][0])
waits = Investment("Faster support", cost=1_500, target="wait_minutes_missing == 0",
                   shifts=[Shift("wait_minutes", "relative", -0.3)])
trap_run = run_cx_roi(trap.transactions, trap.cx_events, trap.customers, [waits],
                      cutoff=trap.calibration_end, margin=0.3, n_draws=20,
                      with_sensitivity=False, progress_bars=False)
engine = trap_run.roi.engine
unit = engine.unit(waits, share=1.0)
truth = trap.true_value(engine.data.index[unit.rows], {c: d[0] for c, d in unit.delta.items()},
                        unit.profile, discount_rate=engine.discount_rate, margin=engine.margin,
                        period_weeks=DAYS_PER_MONTH / 7)
row = trap_run.roi.table().set_index("investment").loc["Faster support"]
pd.Series({"true incremental value": truth, **row[[
    "evidence_grade", "incremental_clv_mean_if_causal", "incremental_clv_mean", "npv_mean",
    "p_roi_positive", "causal_share_prior", "breakeven_effect", "evalue_to_zero_npv",
    "recommendation", "test_lever", "test_customers_per_arm"]].to_dict()})

# %%
print(row["reason"])

# %% [markdown]
# The fitted association is strong: taken as causal, faster support would add
# several times its cost, while its true value is 0. The tool does not say `fund`:
#
# * the effect is **grade C** (a fitted association), so it is valued under the
#   causal-share prior (Beta(1, 1): on average half of it is taken as causal),
#   which already halves the value, and it can never earn `fund` on its own;
# * the **E-value** says how strong an unmeasured confounder (its rate ratio
#   with both the waits and the behaviour) would have to be to erase the NPV,
#   next to the strongest *observed* control as a benchmark. Here a confounder
#   with a rate ratio of about 1.5 would do it: stronger than any observed
#   control, but modest, and the hidden tier is such a confounder;
# * the recommendation is **test first**, with the lever to measure and the
#   customers per arm a randomised test needs to detect the break-even effect.
#
# The timing diagnostics and the placebo check find nothing here (the waits are
# not triggered by purchases or exits), which is the point of this world: no
# statistic of the observational data separates it from a true effect, only a
# test does.
#
# **The experiment path.** Suppose the business runs the planned test:
# contacted customers randomised to the shorter wait, purchase and dropout
# measured per minute of wait. In this world the true effects are 0, so the
# test's estimates are 0 plus sampling noise, with the standard error the
# planned test is sized for (the break-even effect is 2.8 standard errors: 80 %
# power at 5 %). We draw them from the world's truth and feed them back as
# grade-A evidence:

# %%
fitted = trap_run.transaction_model.params_
noise = np.random.default_rng(5)
measured = {}
for lever in ("purchase", "dropout"):
    name = f"{lever}[wait_minutes]"
    se = abs(row["breakeven_effect"] * fitted[name]) / 2.8
    measured[name] = (0.0 + se * noise.standard_normal(), se)  # truth 0, plus noise
tested = dataclasses.replace(
    waits, name="Faster support (tested)",
    evidence=Evidence.experiment(measured, source="randomised wait test (simulated)"))
rerun = run_cx_roi(trap.transactions, trap.cx_events, trap.customers, [waits, tested],
                   cutoff=trap.calibration_end, margin=0.3, n_draws=20,
                   with_sensitivity=False, diagnostics=False, progress_bars=False)
rerun.roi.table().set_index("investment")[[
    "evidence_grade", "share_grade_A", "incremental_clv_mean", "npv_mean",
    "npv_evidenced_mean", "recommendation", "reason"]].T

# %% [markdown]
# With the measured effects the tested value of faster support is small and the
# investment is **do not fund**: its tested effects do not pay back. (The
# remaining value rests on the fitted spend association, grade C, which the
# test did not measure, so the overall grade stays C and that part is not
# counted for the decision.) The observational estimate said "several times
# the cost"; the test says "not worth it", which is the truth of this world.

# %% [markdown]
# **Summary.** The finance table ranks the five investments by expected NPV
# with 90 % intervals, the probability of a positive return, payback and the
# break-even share of the effect; the lever split shows where the value comes
# from; the portfolio step funds the best set within the budget; and the
# tornado shows which assumptions matter. All observational effects are grade
# C: before scaling an investment whose case rests on them, test it, then
# re-run the valuation with the experimental estimate (grade A).
