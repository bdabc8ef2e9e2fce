"""The NumPy/SciPy ``ops`` namespace the pure likelihood functions are written against.

A likelihood written as ``f(params, data, *, ops=NUMPY)`` runs unchanged with
another namespace of the same functions (PyTensor in ``clv.bayes``), so every
likelihood exists exactly once.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from scipy import special

from clv._special import log1mexp, log_gammainc, log_hyp2f1, logsubexp

__all__ = ["NUMPY"]

NUMPY = SimpleNamespace(
    gammaln=special.gammaln,
    betaln=special.betaln,
    log=np.log,
    log1p=np.log1p,
    exp=np.exp,
    logaddexp=np.logaddexp,
    where=np.where,
    maximum=np.maximum,
    minimum=np.minimum,
    log1mexp=log1mexp,
    logsubexp=logsubexp,
    log_hyp2f1=log_hyp2f1,
    log_gammainc=log_gammainc,
    sum=np.sum,
    cumsum=np.cumsum,
    logsumexp=special.logsumexp,
)
