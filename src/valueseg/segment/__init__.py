"""Segments (docs/design.md §6): three lenses per customer, plus stability and migration.

- RFM: quintile scores and the named R×F grid (:func:`rfm_segments`, grid as data in
  ``rfm_grid.toml``, :func:`load_rfm_grid`, :func:`plot_rfm_grid`);
- value tiers (:func:`value_tiers`);
- behavioural clusters (:class:`Segmenter`), profiled and named
  (:func:`profile_clusters`) and explained by rules (:func:`cluster_rules`);
- correlation analysis (:func:`correlation_report`), stability
  (:func:`cluster_stability`) and migration between runs (:func:`migration_matrix`,
  :func:`match_clusters`, :func:`carry_names`).
"""

from __future__ import annotations

from valueseg.segment._preprocess import clustering_columns
from valueseg.segment.cluster import Segmenter
from valueseg.segment.correlation import CorrelationReport, correlation_report
from valueseg.segment.grid import GridSegment, RfmGrid, load_rfm_grid, plot_rfm_grid
from valueseg.segment.migration import (
    carry_names,
    match_clusters,
    migration_matrices,
    migration_matrix,
)
from valueseg.segment.profile import ClusterProfiles, name_clusters, profile_clusters
from valueseg.segment.rfm import RFM_COLUMNS, quintile_scores, rfm_scores, rfm_segments
from valueseg.segment.rules import ClusterRules, cluster_rules
from valueseg.segment.stability import (
    StabilityResult,
    UnstableClustersWarning,
    cluster_stability,
)
from valueseg.segment.tiers import value_tiers

__all__ = [
    "RFM_COLUMNS",
    "ClusterProfiles",
    "ClusterRules",
    "CorrelationReport",
    "GridSegment",
    "RfmGrid",
    "Segmenter",
    "StabilityResult",
    "UnstableClustersWarning",
    "carry_names",
    "cluster_rules",
    "cluster_stability",
    "clustering_columns",
    "correlation_report",
    "load_rfm_grid",
    "match_clusters",
    "migration_matrices",
    "migration_matrix",
    "name_clusters",
    "plot_rfm_grid",
    "profile_clusters",
    "quintile_scores",
    "rfm_scores",
    "rfm_segments",
    "value_tiers",
]
