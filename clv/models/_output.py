"""How the pure model functions take their array arguments and hand back their results."""

from __future__ import annotations

from typing import Any

import numpy as np

from clv._typing import FloatArray

__all__ = ["float_arrays", "float_output"]


def float_arrays(*values: Any) -> list[FloatArray]:
    """Each argument as a float64 array (scalars as 0-d arrays).

    Examples
    --------
    >>> [a.dtype.name for a in float_arrays(1, [2, 3])]
    ['float64', 'float64']
    """
    return [np.asarray(v, dtype=np.float64) for v in values]


def float_output(values: Any) -> Any:
    """``values`` as float64: a NumPy scalar when 0-d, else the array.

    Examples
    --------
    >>> type(float_output(1)).__name__, float_output([1, 2]).dtype.name
    ('float64', 'float64')
    """
    arr = np.asarray(values, dtype=np.float64)
    return arr[()] if arr.ndim == 0 else arr
