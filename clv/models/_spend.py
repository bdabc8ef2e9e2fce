"""``SpendModel``: the prediction surface of the spend (monetary value) models.

A spend model describes the *value* of a customer's repeat transactions, given
how many there were (``frequency``) and their mean value (``monetary_value``).
It is combined with a transaction model in :func:`clv.value.customer_lifetime_value`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clv.models._base import ParametricModel
from clv.models._spec import ModelSpec

__all__ = ["SpendModel", "SpendSpec"]

_SPEND = ("frequency", "monetary_value")


@dataclass(frozen=True)
class SpendSpec(ModelSpec):
    """A :class:`~clv.models._spec.ModelSpec` with the pure functions of a spend model.

    Attributes
    ----------
    expected_spend : callable
        ``expected_spend(params, frequency, monetary_value) -> array``: the
        expected value of a customer's future transactions given their history.
    expected_spend_new_customer : callable
        ``expected_spend_new_customer(params) -> array``: the population mean
        transaction value.
    """

    expected_spend: Callable[..., Any] | None = None
    expected_spend_new_customer: Callable[..., Any] | None = None


class SpendModel(ParametricModel):
    """Base class of the spend models; maps the spec's pure functions over customers.

    Required columns: ``frequency`` (repeat transactions :math:`x`) and
    ``monetary_value`` (their mean value :math:`\\bar m`, > 0 where
    ``frequency > 0``).  For customers without repeat transactions the value
    of ``monetary_value`` is ignored and may be 0 or missing (NaN).
    """

    spec: ClassVar[SpendSpec]

    def _frame(
        self,
        data: pd.DataFrame,
        columns: Any = None,
        *,
        for_fit: bool = False,
        check_unit: bool = True,
    ) -> pd.DataFrame:
        # monetary_value is undefined for customers without repeat purchases: a NaN there
        # is not an error. Fill it (in a copy: the caller's frame is never modified).
        if (
            isinstance(data, pd.DataFrame)
            and "monetary_value" in data.columns
            and "frequency" in data.columns
            and pd.api.types.is_numeric_dtype(data["monetary_value"])
            and pd.api.types.is_numeric_dtype(data["frequency"])
        ):
            fill = data["monetary_value"].isna() & (data["frequency"] == 0)
            fill_log = pd.Series(False, index=data.index)
            if "mean_log_value" in data.columns and pd.api.types.is_numeric_dtype(
                data["mean_log_value"]
            ):  # the individual-transaction likelihood's column, equally undefined there
                fill_log = data["mean_log_value"].isna() & (data["frequency"] == 0)
            if fill.any() or fill_log.any():
                data = data.copy()
                data.loc[fill, "monetary_value"] = 0.0
                data.loc[fill_log, "mean_log_value"] = 0.0
        return super()._frame(data, columns, for_fit=for_fit, check_unit=check_unit)

    def _series(self, values: ArrayLike, data: pd.DataFrame, name: str) -> pd.Series:
        return pd.Series(np.asarray(values, dtype=np.float64), index=data.index, name=name)

    def expected_spend(self, data: pd.DataFrame) -> pd.Series:
        """Expected value of each customer's future transactions.

        Parameters
        ----------
        data : DataFrame
            RFM frame with ``frequency`` and ``monetary_value`` (and the
            model's covariate columns, if it has covariates).

        Returns
        -------
        Series
            Aligned to ``data.index``; customers with ``frequency == 0`` get
            the population mean :meth:`expected_spend_new_customer` (of their
            covariates, with a covariate model).
        """
        assert self.spec.expected_spend is not None
        x, m = self._arrays(data, _SPEND)
        p = self._customer_params(data)
        if np.any(x == 0):
            self.expected_spend_new_customer()  # raises when the population mean is undefined
        return self._series(self.spec.expected_spend(p, x, m), data, "expected_spend")

    def expected_spend_new_customer(self) -> float:
        """Expected value of a transaction of a new (or not yet repeat-buying) customer."""
        assert self.spec.expected_spend_new_customer is not None
        return float(self.spec.expected_spend_new_customer(self._p))

    def simulate(
        self, frequency: ArrayLike, *, random_state: int | np.random.Generator | None = None
    ) -> pd.DataFrame:
        """Simulate the mean spend of customers with the given numbers of repeat transactions.

        With a covariate model the simulated customers have every covariate at 0.

        Parameters
        ----------
        frequency : array_like
            Repeat transactions of each simulated customer (whole numbers >= 0).
        random_state : int or Generator, optional
            Seed; the same seed gives the same data.

        Returns
        -------
        DataFrame
            ``frequency`` and ``monetary_value`` (0 where ``frequency == 0``),
            indexed by ``customer_id`` 0..n-1, plus the model's latent quantities.
        """
        assert self.spec.simulate is not None
        x = np.atleast_1d(np.asarray(frequency, dtype=np.float64))
        if np.any(~np.isfinite(x)) or np.any(x < 0) or np.any(x != np.round(x)):
            raise ValueError("frequency must contain whole numbers >= 0 (repeat transactions).")
        rng = np.random.default_rng(random_state)
        frame = pd.DataFrame(self.spec.simulate(self._p, x, rng=rng))
        frame.index.name = "customer_id"
        return frame
