"""The columns a filter or a playbook rule may name, and what their values compare with.

They are the per-customer columns of a run: ``customer_scores`` (scores and the three
segment lenses) and, for audiences, the customer's next-best action from
``customer_actions``. Anything else is refused by name (:mod:`valueseg.actions.where`).
"""

from __future__ import annotations

from typing import Final

from valueseg.actions.where import Kind

__all__ = ["ACTION_COLUMNS", "AUDIENCE_COLUMNS", "SCORE_COLUMNS"]

#: ``customer_scores`` columns (less ``run_id``) and their kinds.
SCORE_COLUMNS: Final[dict[str, Kind]] = {
    "customer_id": "text",
    "p_alive": "number",
    "expected_purchases_90d": "number",
    "expected_purchases_365d": "number",
    "predicted_clv_365d": "number",
    "churn_probability": "number",
    "predicted_spend_90d": "number",
    "expected_next_order_date": "date",
    "rfm_r": "number",
    "rfm_f": "number",
    "rfm_m": "number",
    "rfm_segment": "text",
    "value_tier": "text",
    "cluster": "number",
    "segment": "text",
}

#: ``customer_actions`` columns an audience adds.
ACTION_COLUMNS: Final[dict[str, Kind]] = {
    "action": "text",
    "priority": "number",
    "value_at_stake": "number",
}

#: What ``valueseg export --where`` may name.
AUDIENCE_COLUMNS: Final[dict[str, Kind]] = {**SCORE_COLUMNS, **ACTION_COLUMNS}
