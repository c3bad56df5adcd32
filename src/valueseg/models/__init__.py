"""Value models: BG/NBD, Pareto/NBD, MBG/NBD, BG/BB purchase models and Gamma-Gamma spend."""

from __future__ import annotations

from valueseg.models._base import ConvergenceError, ConvergenceWarning, NotFittedError
from valueseg.models.beta_geo import BetaGeo
from valueseg.models.beta_geo_beta_binom import BetaGeoBetaBinom
from valueseg.models.clv import discounted_purchases
from valueseg.models.gamma_gamma import GammaGamma
from valueseg.models.modified_beta_geo import ModifiedBetaGeo
from valueseg.models.pareto_nbd import ParetoNBD

__all__ = [
    "BetaGeo",
    "BetaGeoBetaBinom",
    "ConvergenceError",
    "ConvergenceWarning",
    "GammaGamma",
    "ModifiedBetaGeo",
    "NotFittedError",
    "ParetoNBD",
    "discounted_purchases",
]
