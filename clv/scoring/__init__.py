"""What ``clv score`` and the Spark job share: model bundle files, score tables, posterior scoring.

The library layer under the command line: :mod:`clv.scoring.bundle` (the JSON
model bundle of ``clv fit``), :mod:`clv.scoring.tables` (the per-customer score
table), :mod:`clv.scoring.posterior` (the netCDF posterior model file) and
:mod:`clv.scoring.posterior_scores` (scores over posterior draws). Nothing here
imports :mod:`clv.cli`.
"""
