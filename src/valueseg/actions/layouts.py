"""Audience file layouts: valueseg's own, and the ones Klaviyo and Meta import.

- ``csv`` / ``parquet``: :data:`valueseg.store.actions.AUDIENCE_SQL_COLUMNS` as they are.
- ``klaviyo``: a list upload. Klaviyo reads the first column as the identifier, headed
  ``Email`` or ``Phone Number``, maps ``External ID`` and its other built-in property names,
  and keeps every other column as a custom profile property (here the segments, the
  action, the scores and the recommendations).
- ``meta``: a customer-list custom audience. Meta's identifier headers are ``email``,
  ``phone`` and ``extern_id``; the ``value`` column (a non-negative number per customer)
  makes the list usable for a value-based lookalike audience. Here ``value`` is the
  predicted 365-day CLV (0 where there is none).

Contact columns come from the ``customers`` table when one is loaded under a usual name
(``email``, ``e-mail``, ``email_address`` …; ``phone``, ``phone_number``, ``mobile`` …),
or, for e-mail, from the customer ids themselves when most of them are e-mail addresses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np
import pandas as pd

__all__ = ["FORMATS", "contact_columns", "ids_are_emails", "klaviyo_layout", "meta_layout"]

#: The export formats, as ``--format`` names them.
FORMATS: Final = ("csv", "parquet", "klaviyo", "meta")
_EMAIL_NAMES: Final = {"email", "emailaddress", "mail", "emailid"}
_PHONE_NAMES: Final = {"phone", "phonenumber", "mobile", "mobilephone", "telephone", "tel"}
_KLAVIYO: Final = {
    "customer_id": "External ID",
    "rfm_segment": "RFM Segment",
    "value_tier": "Value Tier",
    "segment": "Cluster",
    "action": "Next Best Action",
    "priority": "Action Priority",
    "value_at_stake": "Value At Stake",
    "predicted_clv_365d": "Predicted CLV",
    "churn_probability": "Churn Probability",
    "p_alive": "Probability Alive",
    "recommendations": "Recommended Products",
}


def contact_columns(
    columns: Sequence[str], tags: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``{"email": column, "phone": column}`` for the attribute columns that hold them: by
    their usual names, else the columns tagged ``email`` or ``phone`` at ingest by their
    content (``tags``, :func:`valueseg.store.pii.personal_columns`).

    Examples
    --------
    >>> contact_columns(["region", "E-Mail", "Phone Number"])
    {'email': 'E-Mail', 'phone': 'Phone Number'}
    >>> contact_columns(["region", "reach"], {"reach": "email"})
    {'email': 'reach'}
    """
    found: dict[str, str] = {}
    for column in columns:
        key = re.sub(r"[^a-z0-9]", "", column.lower())
        if key in _EMAIL_NAMES:
            found.setdefault("email", column)
        elif key in _PHONE_NAMES:
            found.setdefault("phone", column)
    for column, kind in (tags or {}).items():
        if kind in ("email", "phone") and column in columns:
            found.setdefault(kind, column)
    return found


def ids_are_emails(ids: pd.Series) -> bool:
    """Whether most customer ids are e-mail addresses (ingest keeps them so, lower case)."""
    if ids.empty:
        return False
    return bool(ids.astype(str).str.contains("@", regex=False).mean() >= 0.5)


def klaviyo_layout(rows: pd.DataFrame) -> pd.DataFrame:
    """Klaviyo's list-upload columns: identifier first, then custom properties."""
    out = pd.DataFrame(index=rows.index)
    if "email" in rows.columns:
        out["Email"] = rows["email"]
    if "phone" in rows.columns:
        out["Phone Number"] = rows["phone"]
    for source, header in _KLAVIYO.items():
        out[header] = rows[source]
    return out


def meta_layout(rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Meta's customer-list columns and how many customers got value 0 for want of a CLV."""
    out = pd.DataFrame(index=rows.index)
    for source in ("email", "phone"):
        if source in rows.columns:
            out[source] = rows[source]
    out["extern_id"] = rows["customer_id"]
    clv = pd.to_numeric(rows["predicted_clv_365d"], errors="coerce").to_numpy(dtype=float)
    out["value"] = np.round(np.clip(np.nan_to_num(clv, nan=0.0), 0.0, None), 2)
    return out, int(np.isnan(clv).sum())
