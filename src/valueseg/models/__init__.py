"""Value models: BG/NBD, Pareto/NBD, MBG/NBD, BG/BB purchase models and Gamma-Gamma spend.

Every model is a scikit-learn style estimator fitted by maximum likelihood on the customer
summary of :func:`valueseg.features.rfm_summary` (``frequency, recency, T, monetary_value``;
BG/BB takes ``frequency, recency, n_periods``), with an optional ``weights`` column counting
the customers behind each row. ``fit`` sets ``params_`` (the literature's names),
``loglik_``, ``standard_errors_``, ``aic_``, ``bic_``, ``converged_`` and ``n_iter_``, and
refuses (:class:`ConvergenceError`) rather than return a fit that did not converge or ran to
a parameter boundary.

Time is in the summary's unit (days by default): ``alpha`` and ``beta`` are in that unit,
``expected_purchases(t, ...)`` takes ``t`` in it, and ``customer_lifetime_value`` is told the
unit by ``freq``.

Several orders in one period count as one purchase, as in lifetimes and in the literature's
CDNOW analyses: ``rfm_summary`` counts distinct purchase periods. This keeps numbers equal to
lifetimes'; on data where many repeat orders share a day it biases the purchase rate down
(``alpha`` up). Summarising with a finer period (``freq="h"``, ``freq_multiplier=24``: time
still in days, orders in different hours counted apart) is the alternative.

A run's value stage compares them on its own shop: :mod:`valueseg.models.backtest` fits
each on a calibration span and scores it on the holdout (:mod:`valueseg.models.metrics`),
and :mod:`valueseg.models.choice` chooses one, refits it and scores every customer
(:func:`valueseg.models.choice.value_models`).

Examples
--------
>>> from valueseg.models import BetaGeo
>>> bg = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
>>> round(float(bg.probability_alive(frequency=2, recency=30.4, T=38.9)), 3)
0.726
"""

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
