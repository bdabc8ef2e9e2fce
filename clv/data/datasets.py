"""Bundled example datasets: CDNOW and the donations (BG/BB) data.

The files ship with lifetimes (a dependency) in ``lifetimes/datasets``; they
are located through the import system without importing lifetimes (which
changes pandas options at import) and read from disk, never the network. Every
loader returns a fresh frame, so callers may modify it.

References
----------
.. [FHL2005] Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). "Counting your
   customers" the easy way: an alternative to the Pareto/NBD model. Marketing
   Science, 24(2), 275-284. (CDNOW: customers of the first quarter of 1997,
   purchases to the end of June 1998; 1/10 sample of 2,357 customers.)
.. [FHS2010] Fader, P. S., Hardie, B. G. S., & Shang, J. (2010). Customer-base
   analysis in a discrete-time noncontractual setting. Marketing Science, 29(6),
   1086-1108. (Donations: 11,104 members of the 1995 cohort, six annual
   opportunities.)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from clv.data.schema import (
    ATTR_OBSERVATION_END,
    CUSTOMER_ID,
    FREQUENCY,
    MONETARY_VALUE,
    RECENCY,
    WEIGHT,
    T,
)
from clv.data.units import with_time_unit

__all__ = [
    "load_cdnow_transactions",
    "load_cdnow_sample_transactions",
    "load_cdnow_summary",
    "load_cdnow_summary_with_spend",
    "load_donations",
]

#: End of the 39-week calibration period of the CDNOW summaries (1997-01-01 + 272 days).
CDNOW_CALIBRATION_END = "1997-09-30T00:00:00"


def _lifetimes_file(name: str) -> Path:
    """Path of a file in ``lifetimes/datasets`` (lifetimes is located, not imported)."""
    spec = importlib.util.find_spec("lifetimes")
    locations = [] if spec is None else list(spec.submodule_search_locations or [])
    for location in locations:
        path = Path(location) / "datasets" / name
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{name} was not found in lifetimes/datasets; the CDNOW and donations files ship "
        "with lifetimes: pip install 'lifetimes>=0.11.3'."
    )


def _read_cdnow(name: str, names: list[str] | None) -> pd.DataFrame:
    return pd.read_csv(
        _lifetimes_file(name),
        sep=r"\s+",
        header=0 if names is None else None,
        names=names,
        dtype=str,
    )


def _cdnow_columns(raw: pd.DataFrame, customer: str) -> dict[str, pd.Series]:
    return {
        CUSTOMER_ID: raw[customer].astype("int64"),
        "date": pd.to_datetime(raw["date"], format="%Y%m%d").astype("datetime64[ns]"),
        "quantity": raw["number_of_cds"].astype("int64"),
        "value": raw["dollar_value"].astype("float64"),
    }


def load_cdnow_transactions() -> pd.DataFrame:
    """CDNOW transaction log: 69,659 purchases of 23,570 customers [FHL2005]_.

    Every customer who made a first purchase at CDNOW in the first quarter of
    1997, with all their purchases to 1998-06-30 (lifetimes' ``CDNOW_master.txt``).

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id`` (int64), ``date`` (datetime64[ns], day
        resolution), ``quantity`` (int64, number of CDs) and ``value`` (float64,
        dollars). Several rows can share a customer and day; 80 rows have value 0.

    Examples
    --------
    >>> tx = load_cdnow_transactions()
    >>> tx.shape, tx["customer_id"].nunique()
    ((69659, 4), 23570)
    >>> str(tx["date"].min().date()), str(tx["date"].max().date())
    ('1997-01-01', '1998-06-30')
    """
    raw = _read_cdnow("CDNOW_master.txt", None)
    return pd.DataFrame(_cdnow_columns(raw, "customer_id"))


def load_cdnow_sample_transactions() -> pd.DataFrame:
    """Transactions of the 2,357-customer CDNOW sample behind :func:`load_cdnow_summary`.

    lifetimes' ``CDNOW_sample.txt``: the 1/10 sample of [FHL2005]_, 6,919
    purchases to 1998-06-30.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id`` (int64, 1 to 2,357: the ids of
        :func:`load_cdnow_summary`), ``date``, ``quantity``, ``value`` (as in
        :func:`load_cdnow_transactions`) and ``master_customer_id`` (the id in
        the full log).

    Examples
    --------
    >>> tx = load_cdnow_sample_transactions()
    >>> tx.shape, tx["customer_id"].nunique()
    ((6919, 5), 2357)
    """
    names = ["master_customer_id", "customer_id", "date", "number_of_cds", "dollar_value"]
    raw = _read_cdnow("CDNOW_sample.txt", names)
    columns = _cdnow_columns(raw, "customer_id")
    columns["master_customer_id"] = raw["master_customer_id"].astype("int64")
    return pd.DataFrame(columns)


def _summary(name: str, rename: dict[str, str]) -> pd.DataFrame:
    raw = pd.read_csv(_lifetimes_file(name))
    frame = raw.rename(columns=rename).set_index(CUSTOMER_ID)
    frame.index = frame.index.astype("int64")
    frame = with_time_unit(frame.astype("float64"), "W")
    frame.attrs[ATTR_OBSERVATION_END] = CDNOW_CALIBRATION_END
    return frame


def load_cdnow_summary() -> pd.DataFrame:
    """RFM summary of the 2,357-customer CDNOW sample, 39-week calibration [FHL2005]_.

    The data of the BG/NBD paper (lifetimes' ``cdnow_customers_summary.csv``):
    purchases from 1997-01-01 to 1997-09-30.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (1 to 2,357), float64 columns ``frequency``,
        ``recency`` and ``T`` in weeks, ``period_days`` (7.0);
        ``attrs["time_unit"] == "W"``.

    Notes
    -----
    The published weeks are exact days / 7, rounded to 2 decimals (``T`` of the
    first customer is 272 / 7 = 38.86), not whole weeks: same-*day* purchases
    are merged. ``rfm_summary(load_cdnow_sample_transactions(), time_unit="D",
    observation_end="1997-09-30")`` divided by 7 reproduces it (see the tests).

    Examples
    --------
    >>> rfm = load_cdnow_summary()
    >>> rfm.loc[1].tolist(), rfm.attrs["time_unit"]
    ([2.0, 30.43, 38.86, 7.0], 'W')
    """
    return _summary("cdnow_customers_summary.csv", {"ID": CUSTOMER_ID})


def load_cdnow_summary_with_spend() -> pd.DataFrame:
    """CDNOW summary with mean repeat spend, for spend models [FHL2005]_.

    lifetimes' ``cdnow_customers_summary_with_transactions.csv`` (columns
    ``x, t_x, T, zbar``): the sample of :func:`load_cdnow_summary` with the
    mean value of the repeat purchases in the calibration period.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``, float64 columns ``frequency``, ``recency``,
        ``T`` (weeks), ``monetary_value`` (dollars; 0 when frequency is 0) and
        ``period_days`` (7.0).

    Examples
    --------
    >>> rfm = load_cdnow_summary_with_spend()
    >>> len(rfm), int((rfm["frequency"] > 0).sum())
    (2357, 946)
    """
    rename = {"ID": CUSTOMER_ID, "x": FREQUENCY, "t_x": RECENCY, "T": T, "zbar": MONETARY_VALUE}
    return _summary("cdnow_customers_summary_with_transactions.csv", rename)


def load_donations() -> pd.DataFrame:
    """Donations data for the BG/BB model: 11,104 donors, 6 opportunities [FHS2010]_.

    lifetimes' ``donations.csv``, one row per distinct history, with lifetimes'
    meaning kept and the columns renamed to the RFM contract.

    Returns
    -------
    pandas.DataFrame
        Float64 columns ``frequency`` (number of the 6 annual opportunities with a
        donation, after the first), ``recency`` (the opportunity of the last
        donation, 0 if none), ``T`` (number of opportunities, 6) and ``weight``
        (number of donors with that history; they sum to 11,104). All counts
        are in opportunities (one a year: ``period_days`` is a year,
        ``attrs["time_unit"] == "Y"``).
        The index (``pattern``) numbers the distinct histories.

    Examples
    --------
    >>> d = load_donations()
    >>> len(d), int(d["weight"].sum()), list(d.columns)
    (22, 11104, ['frequency', 'recency', 'T', 'weight', 'period_days'])
    """
    raw = pd.read_csv(_lifetimes_file("donations.csv"))
    frame = raw.rename(columns={"periods": T, "weights": WEIGHT}).astype("float64")
    frame = frame[[FREQUENCY, RECENCY, T, WEIGHT]]
    frame.index = pd.RangeIndex(len(frame), name="pattern")
    return with_time_unit(frame, "Y")
