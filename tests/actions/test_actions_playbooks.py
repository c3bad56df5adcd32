"""Playbooks as data, user files that extend or replace them, and the next-best action."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from valueseg.actions import load_playbooks, next_best_actions
from valueseg.actions.nba import ACTION_FRAME_COLUMNS
from valueseg.errors import InputError, SourceNotFoundError
from valueseg.segment import load_rfm_grid


def test_the_packaged_playbook_has_the_actions_the_issue_asks_for():
    book = load_playbooks()
    assert set(book.actions) >= {
        "churn-recall", "vip", "win-back", "welcome-series", "cross-sell", "newsletter"
    }  # fmt: skip
    assert book.actions["win-back"].discount_pct <= 15
    assert all(a.contact_cap_per_month > 0 for a in book.actions.values())
    recall = [r for r in book.rules if r.action == "churn-recall"]
    assert any(r.when is not None and "churn_probability" in r.when.columns for r in recall)
    assert book.ordered_rules()[-1].text == "everyone else: everyone"  # the catch-all is last
    assert any(r.needs_recommendations for r in book.rules if r.action == "cross-sell")


def test_the_packaged_rules_name_segments_the_grid_and_tiers_have():
    grid_names = {s.name for s in load_rfm_grid().segments}
    tiers = {"Top 1%", "Top 5%", "Top 20%", "Rest"}
    for rule in load_playbooks().rules:
        assert set(rule.rfm_segments) <= grid_names, rule.name
        assert set(rule.value_tiers) <= tiers, rule.name


def _scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["vip", "risk", "new", "gone", "lapsed", "recs", "rest", "nochurn"],
            "rfm_segment": ["Champions", "Loyal Customers", "New Customers", "Hibernating",
                            "Need Attention", "Need Attention", "Need Attention", "Need Attention"],
            "value_tier": ["Top 1%", "Top 5%", "Rest", "Rest", "Rest", "Rest", "Rest", "Top 5%"],
            "segment": ["Active", "Active", "Active", "Active", "Lapsed one-time buyers",
                        "Active", "Active", "Active"],
            "predicted_clv_365d": [1000.0, 800.0, 50.0, 20.0, 30.0, 40.0, 10.0, 500.0],
            "churn_probability": [0.1, 0.9, 0.3, 0.8, 0.7, 0.2, 0.5, None],
            "p_alive": [0.9, 0.2, 0.8, 0.1, 0.2, 0.9, 0.6, 0.3],
        }
    )  # fmt: skip


def test_each_customer_gets_the_first_rule_they_meet_by_priority():
    recs = pd.DataFrame({"customer_id": ["recs", "vip"], "product_id": ["P1", "P2"]})
    actions = next_best_actions(_scores(), recommendations=recs)
    assert list(actions.columns) == list(ACTION_FRAME_COLUMNS)
    got = dict(zip(actions["customer_id"], actions["action"], strict=True))
    assert got == {
        "risk": "churn-recall",  # top 5 %, churn 0.9 (also a VIP: recall comes first)
        "nochurn": "churn-recall",  # no churn probability: P(alive) 0.3 < 0.4 and top 5 %
        "vip": "vip",
        "new": "welcome-series",
        "gone": "win-back",
        "lapsed": "win-back",  # by its cluster's name
        "recs": "cross-sell",
        "rest": "newsletter",
    }
    rules = dict(zip(actions["customer_id"], actions["rule"], strict=True))
    assert rules["lapsed"] == "lapsed cluster: segment like '*lapsed*'"
    assert rules["risk"] == (
        "valuable and likely to churn: churn_probability > 0.6 and value_tier in "
        "['Top 1%', 'Top 5%', 'Top 20%']"
    )
    # by priority, then value at stake: CLV × churn, else CLV × (1 − P(alive))
    assert actions["customer_id"].tolist()[:2] == ["risk", "nochurn"]
    assert actions.loc[actions.customer_id == "nochurn", "value_at_stake"].item() == 350.0
    assert actions.loc[actions.customer_id == "risk", "value_at_stake"].item() == 720.0


def test_the_notes_say_what_value_at_stake_used_and_what_was_missing():
    notes = next_best_actions(_scores()).attrs["notes"]
    assert "value at stake: predicted_clv_365d × churn_probability for 7 customers" in notes
    assert (
        "value at stake: predicted_clv_365d × (1 − p_alive) (no churn probability) "
        "for 1 customers" in notes
    )
    assert "no recommendations given: rules that need them meet no customer" in notes
    bare = next_best_actions(pd.DataFrame({"customer_id": ["a"], "rfm_segment": ["Champions"]}))
    assert bare["action"].tolist() == ["vip"]
    assert np.isnan(bare["value_at_stake"].item())
    assert (
        "the scores have no column churn_probability: rules reading it meet no customer"
        in bare.attrs["notes"]
    )


def test_one_action_per_customer_on_a_larger_shop(scores_of):
    scores = scores_of(3000, seed=3)
    actions = next_best_actions(scores)
    assert len(actions) == len(scores)
    assert actions["customer_id"].is_unique
    assert set(actions["customer_id"]) == set(scores["customer_id"])
    assert actions["priority"].is_monotonic_increasing


def test_a_user_file_extends_or_replaces(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        "[actions.sms-blast]\n"
        'goal = "Sell"\nchannel = "sms"\noffer = "none"\npriority = 0\n'
        "contact_cap_per_month = 1\n\n"
        '[actions.vip]\ngoal = "g"\nchannel = "post"\noffer = "o"\npriority = 2\n'
        "contact_cap_per_month = 1\n\n"
        '[[rule]]\nname = "big"\naction = "sms-blast"\nwhen = "predicted_clv_365d > 900"\n'
    )
    extended = load_playbooks(path)
    assert extended.actions["vip"].channel == "post"  # same name: replaced
    assert "churn-recall" in extended.actions  # the packaged ones stay
    assert extended.ordered_rules()[0].name == "big"
    got = next_best_actions(_scores(), extended)
    assert got.set_index("customer_id").loc["vip", "action"] == "sms-blast"
    replaced = load_playbooks(path, mode="replace")
    assert [r.name for r in replaced.rules] == ["big"]
    only = next_best_actions(_scores(), replaced)
    assert only["customer_id"].tolist() == ["vip"]
    assert "7 customers met no rule and have no action (no catch-all)" in only.attrs["notes"]


def _refusal(tmp_path, text: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_playbooks(path)
    return str(info.value)


_ACTION = '[actions.a]\ngoal = "g"\nchannel = "c"\noffer = "o"\npriority = 1\n'
_CAP = "contact_cap_per_month = 1\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[actions.a\n", "Playbook file {f} is not valid TOML: "),
        (_ACTION + _CAP + '[[rule]]\nname = "r"\naction = "a"\nwhen = "foo > 1"\n',
         "Playbook {f}: rule 'r', when: unknown column 'foo' at position 1. Columns: "),
        (_ACTION + _CAP + '[[rule]]\nname = "r"\naction = "a"\nwhen = "p_alive >"\n',
         "Playbook {f}: rule 'r', when: expected a value (a number or text in single quotes) "
         "at position 10, got the end of the filter."),
        (_ACTION + _CAP + '[[rule]]\nname = "r"\naction = "b"\n',
         "Playbook {f}: rule 'r' names action 'b', which no [actions.NAME] defines."),
        (_ACTION + "contact_cap = 1\n",
         "Playbook file {f}: action 'a' has unknown key 'contact_cap'. Did you mean "
         "'contact_cap_per_month'?"),
        (_ACTION + _CAP + 'discount_pct = 150\n[[rule]]\nname = "r"\naction = "a"\n',
         "Playbook {f}: action 'a': discount_pct must be a per cent in [0, 100]. Got 150.0."),
        (_ACTION.replace("priority = 1", 'priority = "high"') + _CAP,
         "Playbook {f}: action 'a': priority must be a whole number. Got 'high'."),
        (_ACTION + _CAP + '[[rule]]\naction = "a"\n',
         'Playbook file {f}: rule 1 has no name. Add name = "…" to it.'),
        (_ACTION + _CAP + '[[rule]]\nname = "r"\naction = "a"\nrfm_segments = "At Risk"\n',
         "Playbook {f}: rule 'r': rfm_segments must be a list of names, e.g. [\"At Risk\"]."),
        ("[segments]\n", "Playbook file {f} has unknown table 'segments'."),
    ],
)  # fmt: skip
def test_a_bad_playbook_names_the_file_the_rule_and_the_fix(tmp_path, text, message):
    got = _refusal(tmp_path, text)
    name = str(tmp_path / "bad.toml")
    expected = message.format(f=name if "file" in message else f"playbooks.toml + {name}")
    assert got.startswith(expected), got


def test_a_missing_file_and_a_bad_mode_are_refused(tmp_path):
    with pytest.raises(SourceNotFoundError, match=r"Playbook file .*nope\.toml not found"):
        load_playbooks(tmp_path / "nope.toml")
    with pytest.raises(InputError, match=re.escape("Unknown playbooks mode 'merge'.")):
        load_playbooks(mode="merge")  # type: ignore[arg-type]


def test_duplicate_customers_are_refused():
    with pytest.raises(InputError, match=re.escape("The scores hold customer 'a' more than once")):
        next_best_actions(pd.DataFrame({"customer_id": ["a", "a"]}))


def test_rules_after_everyone_is_placed_are_not_evaluated_but_still_noted() -> None:
    """Once every customer has an action (one customer, in real time) the later rules are
    skipped, and the notes say the same as if they had been tried: each met no customer,
    and the columns they read that the scores lack are named."""
    one = pd.DataFrame(
        {
            "customer_id": ["c"],
            "rfm_segment": ["Champions"],
            "value_tier": ["Top 1%"],
            "predicted_clv_365d": [900.0],
            "churn_probability": [0.7],
        }
    )
    chosen = next_best_actions(one)
    assert chosen[["action", "value_at_stake"]].values.tolist() == [["churn-recall", 630.0]]
    notes = chosen.attrs["notes"]
    later = load_playbooks().ordered_rules()[1:]
    assert [n for n in notes if n.startswith("rule ")] == [
        f"rule {rule.name!r} ({rule.action}) met no customer" for rule in later
    ]
    assert "the scores have no column p_alive: rules reading it meet no customer" in notes
    assert "the scores have no column segment: rules reading it meet no customer" in notes


@pytest.mark.parametrize("with_recs", [True, False])
def test_first_rules_choose_what_next_best_actions_choose(with_recs):
    """Real-time scoring's path (first_rules, no frame) picks each customer's action and
    rule as next_best_actions does, every row on its own too."""
    from valueseg.actions.nba import first_rules

    scores = _scores()
    recs = pd.DataFrame({"customer_id": ["recs", "vip"]}) if with_recs else None
    frame = next_best_actions(scores, recommendations=recs)
    columns = (frame["customer_id"], frame["action"], frame["rule"])
    expected = {c: (a, r) for c, a, r in zip(*columns, strict=True)}
    flags = scores["customer_id"].isin(["recs", "vip"]).to_numpy() if with_recs else None
    book = load_playbooks()
    chosen, rules, _ = first_rules(scores, book, flags)
    got = {
        c: (rules[i].action, rules[i].text)
        for c, i in zip(scores["customer_id"], chosen, strict=True)
        if i >= 0
    }
    assert got == expected and len(got) == len(scores)
    for row in range(len(scores)):  # a batch of one
        one, _, _ = first_rules(scores.iloc[[row]], book, None if flags is None else flags[[row]])
        assert one[0] == chosen[row]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_few_rows_checked_one_by_one_meet_the_rules_the_frame_way(seed, monkeypatch):
    """Up to FEW_ROWS rows (real time's batches) the segment conditions are checked row
    by row; they pick the same rule for each customer as the frame's path, missing
    values, numbers in a text column and cluster patterns included."""
    import valueseg.actions.nba as nba

    rng = np.random.default_rng(seed)
    n = nba.FEW_ROWS
    rfm = ["Champions", "At Risk", "Hibernating", "Can't Lose Them", "Promising", None, "Lost"]
    tiers = ["Top 1%", "Top 5%", "Top 20%", "Rest", None]
    clusters = ["Lapsed big spenders", "LAPSED", "Loyal regulars", None, 7]
    scores = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "rfm_segment": pd.Series(rng.choice(np.array(rfm, dtype=object), n), dtype=object),
            "value_tier": pd.Series(rng.choice(np.array(tiers, dtype=object), n), dtype=object),
            "segment": pd.Series(rng.choice(np.array(clusters, dtype=object), n), dtype=object),
            "churn_probability": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
            "p_alive": rng.random(n),
            "predicted_clv_365d": rng.random(n) * 500,
        }
    )
    recommended = rng.random(n) < 0.5
    book = load_playbooks()
    one_by_one, _, noted = nba.first_rules(scores, book, recommended)
    monkeypatch.setattr(nba, "FEW_ROWS", 0)
    framed, _, noted_framed = nba.first_rules(scores, book, recommended)
    assert one_by_one.tolist() == framed.tolist() and noted == noted_framed
    assert len(set(one_by_one.tolist())) > 3  # the draw reaches several rules


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_rows_checked_without_a_frame_meet_the_rules_the_frame_way(seed):
    """Real-time scoring's rows (dicts, no frame: first_rules_of_rows) meet the same rule
    as the frame of the same rows, with missing values, absent keys, NaN and rules that
    need recommendations; a segment that is not text is left to the frame (None)."""
    from valueseg.actions.nba import first_rules, first_rules_of_rows

    rng = np.random.default_rng(seed)
    rfm = ["Champions", "At Risk", "Hibernating", "Can't Lose Them", "Promising", None, "Lost"]
    tiers = ["Top 1%", "Top 5%", "Top 20%", "Rest", None]
    clusters = ["Lapsed big spenders", "LAPSED", "Loyal regulars", None]
    book = load_playbooks()
    reached: set[int] = set()
    for _ in range(40):
        n = int(rng.integers(1, 9))
        rows = []
        for i in range(n):
            row = {
                "customer_id": f"c{i}",
                "rfm_segment": rfm[rng.integers(len(rfm))],
                "value_tier": tiers[rng.integers(len(tiers))],
                "segment": clusters[rng.integers(len(clusters))],
                "churn_probability": float("nan") if rng.random() < 0.2 else rng.random(),
                "p_alive": None if rng.random() < 0.2 else rng.random(),
                "predicted_clv_365d": rng.random() * 500,
            }
            rows.append({k: v for k, v in row.items() if rng.random() > 0.1 or k == "customer_id"})
        recommended = None if rng.random() < 0.3 else rng.random(n) < 0.5
        found = first_rules_of_rows(rows, book, recommended)
        assert found is not None
        framed, rules, _ = first_rules(pd.DataFrame(rows), book, recommended)
        assert found[0].tolist() == framed.tolist() and found[1] == rules
        reached |= set(framed.tolist())
    assert len(reached) > 4  # the draws reach several rules
    odd = [{"customer_id": "c", "segment": 7, "rfm_segment": "Champions"}]
    assert first_rules_of_rows(odd, book, None) is None
