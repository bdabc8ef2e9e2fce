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
# # Quick start: CDNOW from transactions to customer lifetime value
#
# This notebook walks through the core of `clv` on the CDNOW data set (the 1/10
# sample of 2,357 customers who made their first purchase in the first quarter of
# 1997, followed to the end of June 1998):
#
# 1. load transactions and summarise them into an RFM frame,
# 2. split calibration / holdout and fit the repeat-purchase models,
# 3. check the models on the holdout,
# 4. fit the spend model and score customer lifetime value,
# 5. plot the diagnostics.

# %%
import numpy as np
import pandas as pd

import clv
from clv.data import calibration_holdout_split, rfm_summary
from clv.data.datasets import load_cdnow_sample_transactions
from clv.models import BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel
from clv.value import customer_lifetime_value

clv.__version__

# %% [markdown]
# ## 1. Transactions → RFM
#
# `rfm_summary` merges purchases on the same day and measures `frequency`
# (repeat purchases), `recency` and `T` in the chosen periods, here weeks. The
# frame records its time unit, and every horizon below is in weeks.

# %%
import warnings

# CDNOW has 21 exactly repeated rows; the data layer warns about them once and keeps them
# (same-day purchases are merged anyway)
warnings.filterwarnings("once", category=clv.DataWarning)
tx = load_cdnow_sample_transactions()
tx.head()

# %%
# Fader, Hardie & Lee (2005) merge purchases on the same day and measure time in weeks of
# 7 days from each customer's first purchase: time_unit="7D" (the period_days column
# records it, and every model and CLV function checks it).
split = calibration_holdout_split(
    tx, customer_id_col="customer_id", date_col="date", value_col="value",
    calibration_end="1997-09-30", observation_end="1998-06-30", time_unit="7D")
split.head()

# %% [markdown]
# ## 2. Fit the repeat-purchase models on the 39-week calibration period
#
# The estimates reproduce Fader, Hardie & Lee (2005): BG/NBD r = 0.243,
# α = 4.414, a = 0.793, b = 2.426 (LL −9582.4) and Pareto/NBD r = 0.553,
# α = 10.578, s = 0.606, β = 11.669 (LL −9595.0); MBG/NBD reproduces the
# BTYDplus estimates r = 0.525, α = 6.183, a = 0.891, b = 1.614.

# %%
models = {
    "BG/NBD": BetaGeoModel().fit(split),
    "MBG/NBD": ModifiedBetaGeoModel().fit(split),
    "Pareto/NBD": ParetoNBDModel().fit(split),
}
models["BG/NBD"]

# %%
models["BG/NBD"].summary()

# %% [markdown]
# ## 3. Holdout check
#
# Expected purchases over each customer's 39-week holdout, against what they
# actually did.

# %%
rows = []
for name, model in models.items():
    predicted = model.expected_purchases(split["duration_holdout"], split)
    actual = split["frequency_holdout"]
    rows.append({"model": name, "log_likelihood": model.log_likelihood_,
                 "predicted_total": predicted.sum(), "actual_total": actual.sum(),
                 "MAE": (predicted - actual).abs().mean(),
                 "correlation": np.corrcoef(predicted, actual)[0, 1]})
pd.DataFrame(rows).set_index("model").round(3)

# %%
import matplotlib.pyplot as plt

from clv.plotting import plot_calibration_holdout, plot_period_transactions

fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
plot_period_transactions(models["BG/NBD"], split, ax=axes[0])
plot_calibration_holdout(models["BG/NBD"], split, ax=axes[1]);

# %% [markdown]
# ## 4. Spend and customer lifetime value
#
# Gamma-Gamma on the repeat buyers' mean spend (Fader, Hardie & Lee 2005:
# p = 6.25, q = 3.74, γ = 15.44 on the published spend summary), then CLV over
# the next 52 weeks with a weekly discount rate equivalent to 10 % a year.

# %%
rfm = rfm_summary(tx, customer_id_col="customer_id", date_col="date", value_col="value",
                  time_unit="7D", observation_end="1998-06-30")
bgnbd = BetaGeoModel().fit(rfm)
# one repeat buyer's purchases are all worth $0: Gamma-Gamma fits on the repeat buyers
# with positive spend (it says so) and scores everyone
spend = GammaGammaModel().fit(rfm)
# 10 % a year, converted once to the 7-day period: (1.10) ** (7 / 365.2425) - 1
value = customer_lifetime_value(bgnbd, spend, rfm, horizon=52, annual_discount_rate=0.10)
print(f"discount rate per 7-day week: {value.attrs['discount_rate_per_period']:.5%}")
value.describe()

# %%
top = rfm.assign(clv=value, p_alive=bgnbd.probability_alive(rfm))
top = top.sort_values("clv", ascending=False)
top.head(10).round(2)

# %% [markdown]
# ## 5. Who is still alive?

# %%
from clv.plotting import plot_expected_purchases_matrix, plot_probability_alive_matrix

fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
plot_probability_alive_matrix(bgnbd, data=rfm, ax=axes[0])
plot_expected_purchases_matrix(bgnbd, t=52, data=rfm, ax=axes[1]);

# %%
from clv.plotting import plot_probability_alive_history

customer = tx[tx["customer_id"] == top.index[0]]
days = (customer["date"] - customer["date"].min()).dt.days.unique() / 7
plot_probability_alive_history(bgnbd, days, T=rfm.loc[top.index[0], "T"]);
