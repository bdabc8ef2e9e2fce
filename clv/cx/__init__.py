"""Customer-experience (CX) data: the event schema and a leakage-free feature builder.

``validate_cx_events`` checks the long table of CX events (NPS, CSAT, CES,
complaints, contacts, six-pillars scores, custom signals);
``validate_customers`` the static customer attributes; ``FeatureBuilder``
turns both into one numeric row per customer as of a cutoff, using only
events strictly before it; ``ContactModel`` models service contacts (the cost
to serve).
"""

from clv.cx.contacts import ContactModel, count_contacts
from clv.cx.drivers import drivers, plot_drivers
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
    "plot_drivers",
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
