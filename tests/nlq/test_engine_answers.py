"""The NLQ engine end to end on a lending library it has never heard of (engine_library.py).

Every expected figure is added up by hand from the rows in engine_library.py; the engine only
knows the library through its YAML metadata and the values in the warehouse."""

from __future__ import annotations

import datetime as dt

import pytest

import workbench
from workbench.nlq import NLQEngine

from .engine_library import MODELS, build_library

TODAY = dt.date(2024, 7, 1)


@pytest.fixture(scope="module")
def library_db(tmp_path_factory):
    return build_library(tmp_path_factory.mktemp("library") / "library.duckdb")


@pytest.fixture(scope="module")
def wb(library_db, tmp_path_factory):
    w = workbench.connect(
        warehouse=library_db,
        models_dir=MODELS,
        gateway=False,
        cache="none",
        principals_file=tmp_path_factory.mktemp("none") / "none.yml",
    )
    yield w
    w.close()


@pytest.fixture(scope="module")
def engine(wb, tmp_path_factory):
    return NLQEngine(
        wb, namespace="library", today=TODAY, cache_dir=tmp_path_factory.mktemp("nlq-cache")
    )


def rows(ans) -> set[tuple]:
    return {
        tuple(round(v, 6) if isinstance(v, float) else v for v in r)
        for r in ans.frame.itertuples(index=False)
    }


def test_metric_by_dimension(engine):
    ans = engine.ask("late fees by genre")
    assert ans.kind == "answer"
    assert ans.query["metrics"] == ["late_fees"] and ans.query["dimensions"] == ["genre"]
    # scifi: loans 1, 3, 4, 5, 6 = 2.0 + 5.5 + 1.0 + 3.0 + 0.5; classic: loan 2 = 0.0
    assert rows(ans) == {("scifi", 12.0), ("classic", 0.0)}
    assert {t["kind"] for t in ans.tokens} == {"metric", "by"}
    assert ans.confidence > 0.8


def test_synonym_and_value_filter(engine):
    ans = engine.ask("fines at the Harbour Branch")
    assert ans.kind == "answer"
    assert ans.query["where"] == [{"member": "branch", "op": "=", "value": "Harbour Branch"}]
    assert rows(ans) == {(6.5,)}  # loans 3 and 4: 5.5 + 1.0


def test_time_range_grain_and_time_dimension(engine):
    assert rows(engine.ask("how many loans in 2024")) == {(5,)}  # loans 1, 2, 3, 4, 6
    monthly = engine.ask("monthly loans in 2024")
    assert monthly.query["grain"] == "month"
    assert sorted(r[1] for r in rows(monthly)) == [1, 1, 1, 2]  # Jan, Feb, Jun; Mar x2
    returned = engine.ask("loans returned in 2024")
    assert returned.query["time_dimension"] == "returned_date"
    assert rows(returned) == {(4,)}  # returned in 2024: loans 1, 2, 3, 6 (5 in 2023, 4 open)


def test_top_and_order(engine):
    ans = engine.ask("which genre has the most loans?")
    assert ans.query["order"] == ["-loan_count"] and ans.query["limit"] == 1
    assert rows(ans) == {("scifi", 5)}


def test_count_of_entity_and_per_entity_ratio(engine):
    assert rows(engine.ask("how many members do we have?")) == {(3,)}
    ratio = engine.ask("late fees per member")
    assert ratio.kind == "answer"
    assert rows(ratio) == {(4.0,)}  # 12.0 of fees over 3 members


def test_derived_metric_stated_in_the_question(engine):
    ans = engine.ask("late fees divided by loans by branch")
    assert ans.kind == "answer"
    # Central: loans 1, 2, 5, 6 = 5.5 / 4; Harbour: loans 3, 4 = 6.5 / 2
    assert rows(ans) == {("Central Library", 1.375), ("Harbour Branch", 3.25)}


def test_detail_list(engine):
    ans = engine.ask("list all books with their title and genre")
    assert ans.kind == "answer" and not ans.query["metrics"]
    assert rows(ans) == {("Dune", "scifi"), ("Emma", "classic"), ("Solaris", "scifi")}


def test_follow_ups_diff_and_undo(engine):
    conv = engine.conversation()
    first = conv.ask("loans by membership tier")
    assert rows(first) == {("gold", 4), ("basic", 2)}  # Ada 1, 2 + Cleo 4, 6; Ben 3, 5
    only = conv.ask("only scifi")
    assert rows(only) == {("gold", 3), ("basic", 2)}  # loans 1, 4, 6 and 3, 5
    assert [t["kind"] for t in only.diff["added"]] == ["filter"] and not only.diff["removed"]
    before = conv.ask("what about 2023?")
    assert rows(before) == {("basic", 1)}  # loan 5
    back = conv.undo()
    assert back is only and conv.ask("now by branch").query["dimensions"] == ["branch"]


def test_value_in_two_dimensions_is_a_clarification(engine):
    ans = engine.ask("late fees in Lund")  # a branch city and a member city
    assert ans.kind == "clarification" and ans.frame is None
    members = {o["query"]["where"][0]["member"] for o in ans.options}
    assert members == {"branch_city", "member_city"}


def test_unanswerable_names_the_nearest_members(engine):
    ans = engine.ask("late fees by planet")
    assert ans.kind == "unanswerable" and ans.frame is None
    assert ans.nearest and "planet" in ans.sentence
    assert engine.ask("what is the weather on the moon").kind == "unanswerable"


def test_typo_is_read_with_lower_confidence(engine):
    ans = engine.ask("late fess by genre")
    assert ans.kind == "answer" and rows(ans) == {("scifi", 12.0), ("classic", 0.0)}
    assert ans.confidence < engine.ask("late fees by genre").confidence


def test_languages_with_packs_and_locale_numbers(engine):
    de = engine.ask("Mahngebühren nach Gattung im Jahr 2024")
    assert de.language == "de" and de.kind == "answer"
    assert rows(de) == {("scifi", 9.0), ("classic", 0.0)}  # 2024: 2.0 + 5.5 + 1.0 + 0.5
    assert "9,00 EUR" in de.sentence
    es = engine.ask("multas por género")
    assert es.language == "es" and rows(es) == {("scifi", 12.0), ("classic", 0.0)}
    en = engine.ask("late fees in 2024")
    assert "9.00 EUR" in en.sentence


def test_question_text_never_reaches_sql(engine, wb):
    ans = engine.ask("late fees by genre'; drop table loans; --")
    if ans.kind == "answer":
        assert "drop" not in (ans.sql or "").lower()
        assert rows(ans) == {("scifi", 12.0), ("classic", 0.0)}
    assert wb.query("library", ["loan_count"]).execute().iloc[0, 0] == 6


def test_why_without_incidents_says_so(engine):
    conv = engine.conversation()
    conv.ask("late fees by genre")
    why = conv.ask("why?")
    assert why.kind == "unanswerable" and "explain" in why.sentence


def test_metric_defined_as_a_sum_in_the_question(engine):
    ans = engine.ask("what is the activity, where activity is the sum of loans and members")
    assert ans.kind == "answer"
    assert ans.query["define"]["activity"]["expr"] == "loan_count + member_count"
    assert rows(ans) == {(9,)}  # 6 loans + 3 members


def test_answers_follow_the_askers_row_policies(wb, tmp_path):
    from workbench.security.principal import Principal

    malmo = wb.as_principal(Principal.of("lib", roles=["librarian"], city="Malmo"))
    ans = NLQEngine(malmo, namespace="library", today=TODAY, cache_dir=tmp_path).ask(
        "late fees by branch"
    )
    assert rows(ans) == {("Harbour Branch", 6.5)}  # the Lund branch's loans are not theirs
    assert rows(
        NLQEngine(wb, namespace="library", today=TODAY, cache_dir=tmp_path).ask(
            "late fees by branch"
        )
    ) == {("Central Library", 5.5), ("Harbour Branch", 6.5)}


def test_numeric_condition_on_a_dimension(engine):
    ans = engine.ask("list all books with their title and pages over 300")
    assert ans.query["where"] == [{"member": "pages", "op": "gt", "value": 300}]
    assert rows(ans) == {("Dune", 412), ("Emma", 320)}
    future = engine.ask("late fees next year")
    assert future.kind == "unanswerable" and "future" in future.sentence


def test_follow_up_values_keep_their_dimension(engine):
    conv = engine.conversation()
    conv.ask("late fees by genre")
    lund = conv.ask("only for members in Lund")  # the members' city, not the branches'
    assert lund.query["metrics"] == ["late_fees"]
    assert lund.query["where"] == [{"member": "member_city", "op": "=", "value": "Lund"}]
    assert rows(lund) == {("scifi", 3.5), ("classic", 0.0)}  # Ada and Cleo: loans 1, 2, 4, 6
    malmo = conv.ask("and Malmo?")
    assert malmo.query["where"] == [{"member": "member_city", "op": "=", "value": "Malmo"}]
    assert rows(malmo) == {("scifi", 8.5)}  # Ben: loans 3 and 5


def test_choosing_a_clarification_option_answers_it(engine):
    conv = engine.conversation()
    asked = conv.ask("late fees in Lund")
    assert asked.kind == "clarification" and all(set(o) == {"text", "query"} for o in asked.options)
    pick = next(
        k for k, o in enumerate(asked.options) if o["query"]["where"][0]["member"] == "branch_city"
    )
    ans = conv.choose(pick)
    assert ans.kind == "answer" and rows(ans) == {(5.5,)}  # Central Library: loans 1, 2, 5, 6
