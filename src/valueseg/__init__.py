"""valueseg: customer value segmentation for e-commerce shops."""

from __future__ import annotations

__version__ = "0.1.0"
