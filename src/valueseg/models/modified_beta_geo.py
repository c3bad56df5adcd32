"""MBG/NBD: the modified BG/NBD model (Batislam, Denizel & Filiztekin 2007).

Like BG/NBD, except that a customer may also leave right after the first purchase, so a
customer without repeat purchases is not certainly alive. Same columns, parameters and
time-unit conventions as :class:`~valueseg.models.BetaGeo` (several orders in one period are
one purchase).

References
----------
Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and comparison of
models for customer base analysis. International Journal of Research in Marketing 24(3),
201-209.

Wagner, U. & Hoppe, D. (2008). Erratum on the MBG/NBD model. International Journal of
Research in Marketing 25(3), 225-226.
"""

from __future__ import annotations

from typing import ClassVar

from valueseg.models.beta_geo import BetaGeo

__all__ = ["ModifiedBetaGeo"]


class ModifiedBetaGeo(BetaGeo):
    """MBG/NBD model: BG/NBD where dropout may also follow the first purchase.

    Parameters and attributes are those of :class:`~valueseg.models.BetaGeo`
    (``params_``: ``r, alpha, a, b``).

    Examples
    --------
    >>> from valueseg.models import ModifiedBetaGeo
    >>> truth = ModifiedBetaGeo.from_params(r=0.5, alpha=6.0, a=0.6, b=3.0)
    >>> model = ModifiedBetaGeo().fit(truth.simulate(20_000, T=52.0, random_state=2))
    >>> {k: round(v, 1) for k, v in model.params_.items()}
    {'r': 0.5, 'alpha': 5.9, 'a': 0.6, 'b': 3.1}
    >>> round(float(model.probability_alive(0, 0.0, 52.0)), 3)
    0.629

    References
    ----------
    Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and
    comparison of models for customer base analysis. International Journal of Research in
    Marketing 24(3), 201-209.
    """

    _alternatives: ClassVar[str] = "BetaGeo or ParetoNBD"
    _shift: ClassVar[float] = 1.0
