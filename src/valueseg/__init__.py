"""valueseg: customer value segmentation for e-commerce shops.

The public API is re-exported here and imported lazily, so ``import valueseg`` stays fast.

Examples
--------
>>> import valueseg as vs
>>> sorted(vs.__all__)[:3]
['BetaGeo', 'BetaGeoBetaBinom', 'GammaGamma']
>>> vs.BetaGeo.__module__
'valueseg.models.beta_geo'
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "BetaGeo": "valueseg.models",
    "BetaGeoBetaBinom": "valueseg.models",
    "GammaGamma": "valueseg.models",
    "IngestReport": "valueseg.io",
    "InputError": "valueseg.errors",
    "ModifiedBetaGeo": "valueseg.models",
    "ParetoNBD": "valueseg.models",
    "Segmenter": "valueseg.segment",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'valueseg' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
