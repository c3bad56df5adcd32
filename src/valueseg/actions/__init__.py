"""Actions (docs/design.md §2): from segment to campaign, and proof that it worked.

- playbooks as data and every customer's next-best action (:func:`load_playbooks`,
  :func:`next_best_actions`, packaged ``playbooks.toml``);
- the ``--where`` filter grammar (:func:`parse_where`);
- audience files for a spreadsheet, Klaviyo or Meta (:func:`export_audience`,
  :func:`export_audiences`);
- experiments: design with a stable split (:func:`design_experiment`, :func:`assign_arms`)
  and analysis with SRM and CUPED (:func:`analyze_experiment`).
"""

from __future__ import annotations

from valueseg.actions.analysis import ExperimentAnalysis, analyze_experiment
from valueseg.actions.experiments import ExperimentDesign, assign_arms, design_experiment
from valueseg.actions.export import ExportReport, export_audience, export_audiences
from valueseg.actions.nba import next_best_actions, value_at_stake
from valueseg.actions.playbooks import Action, Playbook, Rule, load_playbooks
from valueseg.actions.where import Where, parse_where

__all__ = [
    "Action",
    "ExperimentAnalysis",
    "ExperimentDesign",
    "ExportReport",
    "Playbook",
    "Rule",
    "Where",
    "analyze_experiment",
    "assign_arms",
    "design_experiment",
    "export_audience",
    "export_audiences",
    "load_playbooks",
    "next_best_actions",
    "parse_where",
    "value_at_stake",
]
