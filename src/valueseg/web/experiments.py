"""The segment page's design-an-experiment form: :func:`valueseg.actions.design_experiment`
on the segment's customers, as ``valueseg experiment design --segment`` does.

It sizes the test, says whether the segment is large enough (and, when not, the smallest
effect it can detect), assigns every customer to an arm and records the design in the
``experiments`` table: a write, so admin only, under the server's write lock, and audited
(action ``design_experiment``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from valueseg.actions.experiments import design_experiment
from valueseg.errors import InputError
from valueseg.store import Store
from valueseg.store.web import write_audit
from valueseg.web.auth import Caller
from valueseg.web.deps import ApiError, WebState

__all__ = ["ExperimentForm", "design_for_segment"]

_FIELDS = {  # the CLI's flags -> the form's labels, longest first
    "--control-share": "'Control share'",
    "--baseline": "'Baseline'",
    "--metric": "'Metric'",
    "--alpha": "'Alpha'",
    "--power": "'Power'",
    "--name": "'Name'",
    "--mde": "'Smallest effect'",
}


class ExperimentForm(BaseModel):
    """The form's fields as typed (numbers are read by :func:`design_for_segment`)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=200)
    metric: Literal["conversion", "revenue"] = "conversion"
    mde: str = Field(max_length=40)
    baseline: str = Field(default="", max_length=40)
    alpha: str = Field(default="0.05", max_length=40)
    power: str = Field(default="0.8", max_length=40)
    control_share: str = Field(default="0.5", max_length=40)


def _number(field: str, text: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise ApiError(
            422, "invalid", f"Field {field!r} must be a number. Got {text!r}.", field
        ) from None


def design_for_segment(
    state: WebState, store: Store, caller: Caller, segment: str, form: ExperimentForm
) -> dict[str, Any]:
    """Design the experiment on ``segment`` and return what the page shows of it."""
    numbers = {k: _number(k, getattr(form, k)) for k in ("mde", "baseline", "alpha", "power",
                                                         "control_share")}  # fmt: skip
    if numbers["mde"] is None:
        raise ApiError(422, "invalid", "Field 'mde': give the smallest effect worth detecting.")
    options: dict[str, Any] = {
        k: v for k, v in numbers.items() if v is not None and k != "baseline"
    }
    with state.writing(f"experiment {form.name!r}"):
        try:
            design = design_experiment(
                store, name=form.name, segment=segment, metric=form.metric,
                baseline=numbers["baseline"], **options,
            )  # fmt: skip
        except InputError as exc:  # the CLI's flags, as the form names its fields
            message = str(exc)
            for flag, label in _FIELDS.items():
                message = message.replace(flag, label)
            raise ApiError(422, "invalid", message) from None
        detail = {"experiment_id": design.experiment_id, "run_id": design.run_id,
                  "feasible": design.feasible, "audience_size": design.audience_size}  # fmt: skip
        write_audit(store, caller.key_id, caller.role, "design_experiment", segment, detail)
    return {
        "experiment_id": design.experiment_id,
        "name": design.name,
        "run_id": design.run_id,
        "metric": design.metric,
        "summary": design.summary(),
        "baseline_source": design.baseline_source,
        "needed": (design.needed_control, design.needed_treatment),
        "assigned": (design.control, design.treatment),
        "feasible": design.feasible,
        "mde_at_size": design.mde_at_size,
    }
