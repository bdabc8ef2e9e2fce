"""Maximum-likelihood models of the levers of customer value."""

from clv.models.bgnbd import BetaGeoModel

__all__ = ["BetaGeoModel"]
