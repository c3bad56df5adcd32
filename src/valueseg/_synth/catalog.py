"""Product catalogue and customer taste of the synthetic shop (private).

Products carry a category, a base price, a popularity and a latent factor vector. Customers
belong to a taste archetype; each (archetype, segment) pair has one product choice
distribution, the mixture ``TASTE_WEIGHT * softmax(archetype . factors / TEMPERATURE +
log popularity) + (1 - TASTE_WEIGHT) * segment category mix``. All pairs sit in one table, so
one vectorised inverse-CDF draw picks the products of every order line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from valueseg._synth.spec import (
    ARCHETYPE_LEAN,
    CATEGORIES,
    CATEGORY_PRICE,
    CATEGORY_SIZE,
    HOME_ARCHETYPE_MASS,
    N_ARCHETYPES,
    TASTE_DIM,
    TASTE_WEIGHT,
    TEMPERATURE,
    SegmentSpec,
)
from valueseg._synth.util import normalise_rows, sample_rows


@dataclass(frozen=True)
class Catalog:
    """Products, archetypes and the per-(archetype, segment) product choice table."""

    category: np.ndarray  # category code per product
    price: np.ndarray  # base price per product
    popularity: np.ndarray  # relative popularity per product
    factors: np.ndarray  # (n_products, TASTE_DIM)
    archetypes: np.ndarray  # (N_ARCHETYPES, TASTE_DIM)
    archetype_prob: np.ndarray  # (n_segments, N_ARCHETYPES)
    choice: np.ndarray  # (N_ARCHETYPES * n_segments, n_products), row = archetype * S + segment

    @property
    def n_products(self) -> int:
        """Number of products in the catalogue."""
        return int(self.price.size)

    def affinity(self, archetype: np.ndarray, product: np.ndarray) -> np.ndarray:
        """Standardised taste score of each (archetype, product) pair (mean 0, sd ~1)."""
        raw = np.einsum("ij,ij->i", self.archetypes[archetype], self.factors[product])
        return raw / self._score_sd()

    def _score_sd(self) -> float:
        return float(np.std(self.archetypes @ self.factors.T))


def make_catalog(
    rng: np.random.Generator, specs: tuple[SegmentSpec, ...], n_products: int
) -> Catalog:
    """Draw the product catalogue, the archetypes and the choice table."""
    n_cat = len(CATEGORIES)
    size = np.asarray(CATEGORY_SIZE, dtype=float)
    # every category gets at least one product, the rest are spread by relative size
    category = np.concatenate(
        [np.arange(n_cat), rng.choice(n_cat, size=n_products - n_cat, p=size / size.sum())]
    )
    rng.shuffle(category)
    median = np.asarray(CATEGORY_PRICE, dtype=float)[category]
    price = np.maximum(np.round(median * rng.lognormal(0.0, 0.45, n_products)), 1.0) - 0.01
    popularity = rng.lognormal(0.0, 0.8, n_products)
    centres = rng.normal(0.0, 1.0, (n_cat, TASTE_DIM))
    factors = centres[category] + rng.normal(0.0, 0.7, (n_products, TASTE_DIM))
    archetypes = _archetypes(rng, specs, centres)
    archetype_prob = _archetype_prob(len(specs))
    choice = _choice_table(specs, category, popularity, factors, archetypes)
    return Catalog(category, price, popularity, factors, archetypes, archetype_prob, choice)


def _archetypes(
    rng: np.random.Generator, specs: tuple[SegmentSpec, ...], centres: np.ndarray
) -> np.ndarray:
    """Archetype taste vectors: random, leaning towards their home segment's categories."""
    block = N_ARCHETYPES // len(specs)
    mix = normalise_rows(np.array([spec.category_mix for spec in specs], dtype=float))
    lean = mix @ centres
    lean /= np.linalg.norm(lean, axis=1, keepdims=True)
    home = np.minimum(np.arange(N_ARCHETYPES) // block, len(specs) - 1)
    noise = rng.normal(0.0, 1.0, (N_ARCHETYPES, TASTE_DIM)) / np.sqrt(TASTE_DIM)
    return ARCHETYPE_LEAN * lean[home] + noise


def _archetype_prob(n_segments: int) -> np.ndarray:
    """Each segment puts most of its mass on its own contiguous block of archetypes."""
    block = N_ARCHETYPES // n_segments
    prob = np.full((n_segments, N_ARCHETYPES), (1.0 - HOME_ARCHETYPE_MASS))
    for seg in range(n_segments):
        home = slice(seg * block, (seg + 1) * block)
        prob[seg] /= N_ARCHETYPES - block
        prob[seg, home] = HOME_ARCHETYPE_MASS / block
    return normalise_rows(prob)


def _choice_table(
    specs: tuple[SegmentSpec, ...],
    category: np.ndarray,
    popularity: np.ndarray,
    factors: np.ndarray,
    archetypes: np.ndarray,
) -> np.ndarray:
    """Product choice distribution of every (archetype, segment) pair, one row each."""
    logits = archetypes @ factors.T / TEMPERATURE + np.log(popularity)
    taste = normalise_rows(np.exp(logits - logits.max(axis=1, keepdims=True)))
    n_cat = len(CATEGORIES)
    pop_in_cat = popularity / np.bincount(category, weights=popularity, minlength=n_cat)[category]
    mix = normalise_rows(np.array([spec.category_mix for spec in specs], dtype=float))
    by_segment = mix[:, category] * pop_in_cat  # (n_segments, n_products), rows sum to one
    table = TASTE_WEIGHT * taste[:, None, :] + (1.0 - TASTE_WEIGHT) * by_segment[None, :, :]
    return table.reshape(-1, factors.shape[0])


def choose_products(
    rng: np.random.Generator,
    catalog: Catalog,
    archetype: np.ndarray,
    segment: np.ndarray,
    n_segments: int,
) -> np.ndarray:
    """Draw one product per entry from its (archetype, segment) choice distribution."""
    return sample_rows(rng, catalog.choice, archetype * n_segments + segment)
