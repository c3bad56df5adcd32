"""Value models: BG/NBD, Pareto/NBD, MBG/NBD, BG/BB purchase models and Gamma-Gamma spend."""

from __future__ import annotations

from valueseg.models._base import ConvergenceError, ConvergenceWarning, NotFittedError
from valueseg.models.beta_geo import BetaGeo
from valueseg.models.modified_beta_geo import ModifiedBetaGeo

__all__ = ["BetaGeo", "ConvergenceError", "ConvergenceWarning", "ModifiedBetaGeo", "NotFittedError"]
