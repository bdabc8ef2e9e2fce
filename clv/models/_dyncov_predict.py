"""Predictions of the time-varying transaction models given a future covariate path.

One surface for :class:`~clv.models.ParetoNBDDynamicModel` and
:class:`~clv.models.BetaGeoDynamicModel` (and any model whose math module
offers ``probability_alive``, ``expected_purchases`` and
``expected_discounted_purchases`` with the signatures of
:mod:`clv.models._pareto_nbd_dyncov_math`): the class names its math module
in ``_math`` and its covariate arrays come from ``_arrays``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clv.exceptions import DataError, Problem
from clv.models._dyncov_data import TimeVaryingData
from clv.models._pareto_nbd_dyncov_math import FutureArrays

__all__ = ["FuturePathPredictions"]


class FuturePathPredictions:
    """Mixin: P(alive), expected and discounted purchases, ``predict`` over a future path.

    ``path`` is a future covariate path in the input layout (customer id,
    period start, covariate columns; e.g. from
    :func:`clv.models.future_covariates`); without it every customer keeps
    the covariate values of the period containing ``observation_end``.
    """

    _math: Any

    # provided by the model class
    params_: pd.Series
    purchase_covariates: Any
    dropout_covariates: Any

    if TYPE_CHECKING:  # provided by the model class (after this mixin in the MRO)

        def _check_fitted(self) -> None: ...

        def _split(self, values: Any) -> tuple[Any, Any, Any]: ...

        def _arrays(self, data: TimeVaryingData) -> Any: ...

        def _param_rows(self, params: Any) -> tuple[Any, bool]: ...

    def _future_arrays(
        self,
        data: TimeVaryingData,
        horizon: float,
        path: pd.DataFrame | None,
        customer_id_col: str,
        cov_date_col: str,
    ) -> Any:
        return data.future(
            horizon,
            self.purchase_covariates,
            self.dropout_covariates,
            path,
            customer_id_col=customer_id_col,
            cov_date_col=cov_date_col,
        )

    def _on_path(
        self,
        function: str,
        data: TimeVaryingData,
        t: float,
        path: pd.DataFrame | None,
        customer_id_col: str,
        cov_date_col: str,
        *extra: float,
        needs_path: bool = True,
    ) -> pd.Series:
        """``_math.<function>`` per customer over ``t`` periods of the future path.

        ``extra`` follows ``t`` in the call; without ``needs_path`` the math gets
        no future arrays (``None``).
        """
        self._check_fitted()
        base, gp, gd = self._split(self.params_.to_numpy())
        arrays = self._arrays(data)  # checks the type of ``data`` first
        future = (
            self._future_arrays(data, t, path, customer_id_col, cov_date_col)
            if needs_path
            else None
        )
        values = getattr(self._math, function)(base, gp, gd, arrays, future, float(t), *extra)
        return pd.Series(values, index=data.customer_ids, name=function)

    def probability_alive(
        self,
        data: TimeVaryingData,
        t: float = 0.0,
        path: pd.DataFrame | None = None,
        *,
        customer_id_col: str = "customer_id",
        cov_date_col: str = "cov_date",
    ) -> pd.Series:
        """P(alive) at ``observation_end + t`` given each history and the future path.

        ``path`` as in :meth:`TimeVaryingData.future` (default: the last
        covariate values carried forward).
        """
        return self._on_path(
            "probability_alive", data, t, path, customer_id_col, cov_date_col, needs_path=t > 0
        )

    def expected_purchases(
        self,
        t: float,
        data: TimeVaryingData,
        path: pd.DataFrame | None = None,
        *,
        customer_id_col: str = "customer_id",
        cov_date_col: str = "cov_date",
    ) -> pd.Series:
        """Expected repeat purchases in ``(observation_end, observation_end + t]`` per customer."""
        return self._on_path("expected_purchases", data, t, path, customer_id_col, cov_date_col)

    def expected_discounted_purchases(
        self,
        t: float,
        data: TimeVaryingData,
        discount_rate: float,
        path: pd.DataFrame | None = None,
        *,
        params: Any = None,
        customers: Sequence[Any] | None = None,
        customer_id_col: str = "customer_id",
        cov_date_col: str = "cov_date",
    ) -> pd.Series | pd.DataFrame:
        """Discounted expected purchases over the next ``t`` periods (DECT).

        ``discount_rate`` per period: a purchase ``u`` periods ahead counts
        :math:`(1 + d)^{-u}`.  Multiply by expected spend for a CLV.

        Parameters
        ----------
        t, data, discount_rate, path
            Horizon, data, rate per period and future covariate path (default:
            the last values carried forward).
        params : Series, array or DataFrame, optional
            Parameters to evaluate at instead of the fitted ones: one set (in
            the order of ``params_``), or draws as rows (e.g.
            :meth:`sample_params`), evaluated with the data and path prepared once.
        customers : sequence, optional
            Only these customer ids (default all).

        Returns
        -------
        Series or DataFrame
            Per customer; with several parameter sets a DataFrame with one row
            per set and one column per customer.
        """
        values, single = self._param_rows(params)
        arrays, future, ids = self._prepared(
            data, t, path, customers, customer_id_col, cov_date_col
        )
        out = np.stack(
            [
                self._math.expected_discounted_purchases(
                    *self._split(v), arrays, future, float(t), float(discount_rate)
                )
                for v in values
            ]
        )
        if single:
            return pd.Series(out[0], index=ids, name="expected_discounted_purchases")
        return pd.DataFrame(out, columns=ids)

    def _prepared(
        self,
        data: TimeVaryingData,
        t: float,
        path: pd.DataFrame | None,
        customers: Sequence[Any] | None,
        customer_id_col: str,
        cov_date_col: str,
    ) -> tuple[Any, FutureArrays, pd.Index]:
        """Arrays and future path, restricted to ``customers`` (ids) when given."""
        arrays = self._arrays(data)
        future = self._future_arrays(data, t, path, customer_id_col, cov_date_col)
        if customers is None:
            return arrays, future, data.customer_ids
        ids = pd.Index(list(customers))
        rows = data.customer_ids.get_indexer(ids)
        if (rows < 0).any():
            raise DataError(
                [
                    Problem(
                        customer_id_col,
                        "names customers that are not in the data",
                        "drop them",
                        list(ids[rows < 0][:5]),
                    )
                ],
                what="the customers to predict",
            )
        future = FutureArrays(future.length[rows], future.purchase[rows], future.dropout[rows])
        return arrays.subset(rows), future, ids

    def predict(
        self,
        data: TimeVaryingData,
        horizon: float,
        path: pd.DataFrame | None = None,
        *,
        discount_rate: float | None = None,
        customer_id_col: str = "customer_id",
        cov_date_col: str = "cov_date",
    ) -> pd.DataFrame:
        """Per-customer predictions over ``horizon`` periods after ``observation_end``.

        Returns
        -------
        DataFrame
            Index: customer id.  Columns ``probability_alive`` (at
            observation_end), ``probability_alive_end`` (at the horizon's
            end), ``expected_purchases`` and, with ``discount_rate``,
            ``expected_discounted_purchases``.
        """
        kw = {"customer_id_col": customer_id_col, "cov_date_col": cov_date_col}
        out = pd.DataFrame(
            {
                "probability_alive": self.probability_alive(data),
                "probability_alive_end": self.probability_alive(data, horizon, path, **kw),
                "expected_purchases": self.expected_purchases(horizon, data, path, **kw),
            }
        )
        if discount_rate is not None:
            out["expected_discounted_purchases"] = self.expected_discounted_purchases(
                horizon, data, discount_rate, path, **kw
            )
        return out
