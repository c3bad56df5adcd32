"""valueseg: customer value segmentation for e-commerce shops.

The public API is re-exported here and imported lazily, so ``import valueseg`` stays fast.

Examples
--------
>>> import valueseg as vs
>>> sorted(vs.__all__)[:3]
['BetaGeo', 'BetaGeoBetaBinom', 'ChurnPredictor']
>>> vs.BetaGeo.__module__
'valueseg.models.beta_geo'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the lazy exports are, for type checkers (keep in step with _EXPORTS)
    from valueseg.errors import InputError as InputError
    from valueseg.errors import ValuesegError as ValuesegError
    from valueseg.features import calibration_holdout as calibration_holdout
    from valueseg.features import rfm_summary as rfm_summary
    from valueseg.io import IngestReport as IngestReport
    from valueseg.io import ingest as ingest
    from valueseg.models import BetaGeo as BetaGeo
    from valueseg.models import BetaGeoBetaBinom as BetaGeoBetaBinom
    from valueseg.models import GammaGamma as GammaGamma
    from valueseg.models import ModifiedBetaGeo as ModifiedBetaGeo
    from valueseg.models import ParetoNBD as ParetoNBD
    from valueseg.pipeline import run as run
    from valueseg.predict import ChurnPredictor as ChurnPredictor
    from valueseg.predict import SpendPredictor as SpendPredictor
    from valueseg.recommend import Recommender as Recommender
    from valueseg.segment import Segmenter as Segmenter
    from valueseg.segment import rfm_segments as rfm_segments
    from valueseg.segment import value_tiers as value_tiers
    from valueseg.store import Store as Store
    from valueseg.synth import make_shop as make_shop

__version__ = "0.1.0"

_EXPORTS = {
    "BetaGeo": "valueseg.models",
    "BetaGeoBetaBinom": "valueseg.models",
    "ChurnPredictor": "valueseg.predict",
    "GammaGamma": "valueseg.models",
    "IngestReport": "valueseg.io",
    "InputError": "valueseg.errors",
    "ModifiedBetaGeo": "valueseg.models",
    "ParetoNBD": "valueseg.models",
    "Recommender": "valueseg.recommend",
    "Segmenter": "valueseg.segment",
    "SpendPredictor": "valueseg.predict",
    "Store": "valueseg.store",
    "ValuesegError": "valueseg.errors",
    "calibration_holdout": "valueseg.features",
    "ingest": "valueseg.io",
    "make_shop": "valueseg.synth",
    "rfm_segments": "valueseg.segment",
    "rfm_summary": "valueseg.features",
    "run": "valueseg.pipeline",
    "value_tiers": "valueseg.segment",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'valueseg' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
