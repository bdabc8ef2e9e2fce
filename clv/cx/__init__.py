"""Customer-experience (CX) data: the event schema and a leakage-free feature builder.

``validate_cx_events`` checks the long table of CX events (NPS, CSAT, CES,
complaints, contacts, six-pillars scores, custom signals);
``validate_customers`` the static customer attributes; ``FeatureBuilder``
turns both into one numeric row per customer as of a cutoff, using only
events strictly before it; ``ContactModel`` models service contacts (the cost
to serve). ``analyse_experiment`` (randomised tests) and
``difference_in_differences`` (dated changes hitting some groups) turn
experiments and quasi-experiments into evidence for the ROI engine.
"""

from clv.cx.contacts import ContactModel, count_contacts
from clv.cx.drivers import drivers, plot_drivers
from clv.cx.dynamic import (
    DynamicCXModel,
    PathValuation,
    changed_path,
    fit_dynamic_cx,
    restored_path,
    value_path_change,
)
from clv.cx.experiments import ExperimentResult, analyse_experiment, balance_table
from clv.cx.features import (
    Feature,
    FeatureBuilder,
    count,
    decayed_count,
    features_as_of,
    flag,
    interaction,
    last,
    mean,
    nps_groups,
    rate,
)
from clv.cx.paths import feature_paths
from clv.cx.quasi import DiDResult, SignalChange, difference_in_differences, signal_change
from clv.cx.schema import (
    BUILT_IN_SIGNALS,
    PILLARS,
    CustomerAttributes,
    validate_customers,
    validate_cx_events,
)

__all__ = [
    "ContactModel",
    "count_contacts",
    "drivers",
    "DynamicCXModel",
    "PathValuation",
    "changed_path",
    "feature_paths",
    "fit_dynamic_cx",
    "restored_path",
    "value_path_change",
    "plot_drivers",
    "DiDResult",
    "ExperimentResult",
    "SignalChange",
    "analyse_experiment",
    "balance_table",
    "difference_in_differences",
    "signal_change",
    "Feature",
    "FeatureBuilder",
    "count",
    "decayed_count",
    "features_as_of",
    "flag",
    "interaction",
    "last",
    "mean",
    "nps_groups",
    "rate",
    "BUILT_IN_SIGNALS",
    "PILLARS",
    "CustomerAttributes",
    "validate_customers",
    "validate_cx_events",
]
