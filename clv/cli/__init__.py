"""The ``clv`` command line (``clv ...`` or ``python -m clv ...``); see :func:`clv.cli.main.main`.

Importing this package is cheap: each subcommand imports what it needs when it runs.
"""
