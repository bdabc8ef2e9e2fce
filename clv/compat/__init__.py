"""Drop-in replacements for other CLV libraries' APIs, backed by clv's models.

``import clv.compat.lifetimes as lifetimes`` runs code written for the
archived ``lifetimes`` package on current pandas and NumPy (see
:mod:`clv.compat.lifetimes` and ``docs/migration_lifetimes.md``).
"""
