"""The NLQ question-file format (docs/nlq.md, "Question files"): reading and checking one file.

A file is a mapping with ``namespace`` (the semantic namespace the questions are about),
``today`` (the date relative time words are anchored on, given both to the gold queries and to
the engine), optional ``language`` (the default of the items) and ``questions``: a list of
items, each with ``id``, ``question``, ``language``, ``category`` and exactly one of

* ``gold``: a semantic query, the keyword arguments of ``Workbench.query`` (``target`` defaults
  to the file's namespace);
* ``expected_rows``: the answer's rows, as lists of values;
* ``expect: clarification`` or ``expect: unanswerable``.

Optional: ``follow_up_of: <id>`` (asked in the same conversation, after that item), ``ordered:
true`` (the row order is part of the answer) and ``note`` (free text for the reader).

Every problem is a ``SpecError`` naming the file, the line and the field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import SpecError
from workbench.specfile import SourceMap, plain, read_yaml

CATEGORIES = (
    "aggregate",
    "detail",
    "time",
    "derived",
    "follow-up",
    "clarification",
    "unanswerable",
    "voice",
)
EXPECTS = ("clarification", "unanswerable")
GOLD_KEYS = frozenset(
    {
        "target",
        "metrics",
        "dimensions",
        "where",
        "segments",
        "grain",
        "time_range",
        "time_dimension",
        "order",
        "limit",
        "distinct",
        "via",
        "define",
        "top",
    }
)
ITEM_KEYS = frozenset(
    {
        "id",
        "question",
        "language",
        "category",
        "gold",
        "expected_rows",
        "expect",
        "follow_up_of",
        "ordered",
        "note",
    }
)
FILE_KEYS = frozenset({"namespace", "today", "language", "description", "data", "questions"})


@dataclass(frozen=True)
class Item:
    """One question and what counts as its right answer."""

    id: str
    question: str
    language: str
    category: str
    gold: dict[str, Any] | None = None
    expected_rows: list[list[Any]] | None = None
    expect: str | None = None
    follow_up_of: str | None = None
    ordered: bool = False
    line: int | None = None

    @property
    def answerable(self) -> bool:
        return self.expect is None


@dataclass
class QuestionSet:
    """The items of one file, in file order, with the namespace and the fixed 'today'."""

    path: Path
    namespace: str
    today: dt.date
    items: list[Item] = field(default_factory=list)

    def by_id(self) -> dict[str, Item]:
        return {item.id: item for item in self.items}

    def chains(self) -> list[list[Item]]:
        """The conversations: an item without ``follow_up_of`` starts one, a follow-up continues
        the conversation of the item it follows (which is that conversation's latest turn)."""
        out: list[list[Item]] = []
        where: dict[str, int] = {}
        for item in self.items:
            if item.follow_up_of is None:
                where[item.id] = len(out)
                out.append([item])
            else:
                where[item.id] = where[item.follow_up_of]
                out[where[item.id]].append(item)
        return out


def load_questions(path: str | Path, namespace: str | None = None) -> QuestionSet:
    """Read and check a question file; ``namespace`` overrides (or supplies) the file's."""
    root, src = read_yaml(path, "a mapping with 'namespace', 'today' and 'questions'")
    unknown = sorted(set(root) - FILE_KEYS)
    if unknown:
        raise src.error(
            f"unknown field '{unknown[0]}' (allowed: {', '.join(sorted(FILE_KEYS))})",
            (unknown[0],),
        )
    ns = namespace or root.get("namespace")
    if not ns or not isinstance(ns, str):
        raise src.error("missing 'namespace' (or pass --namespace)", ("namespace",))
    today = _date(root.get("today"), src)
    raw = root.get("questions")
    if not isinstance(raw, list) or not raw:
        raise src.error("'questions' must be a non-empty list", ("questions",))
    default_lang = root.get("language")
    qs = QuestionSet(Path(path), ns, today)
    seen: dict[str, int] = {}
    chain_of: dict[str, int] = {}  # item id -> its conversation
    latest: list[str] = []  # conversation -> id of its latest turn
    for i, node in enumerate(raw):
        item = _item(node, i, src, default_lang)
        where = ("questions", i)
        if item.id in seen:
            raise src.error(f"duplicate id '{item.id}' (first on item {seen[item.id]})", where)
        parent = item.follow_up_of
        if parent is None:
            chain_of[item.id] = len(latest)
            latest.append(item.id)
        else:
            if parent not in seen:
                raise src.error(
                    f"follow_up_of '{parent}' is not an earlier id in this file",
                    (*where, "follow_up_of"),
                )
            chain = chain_of[parent]
            if latest[chain] != parent:
                raise src.error(
                    f"follow_up_of '{parent}': that conversation's latest turn is "
                    f"'{latest[chain]}'; a follow-up continues the latest turn",
                    (*where, "follow_up_of"),
                )
            chain_of[item.id] = chain
            latest[chain] = item.id
        seen[item.id] = i
        qs.items.append(item)
    return qs


def _item(node: Any, i: int, src: SourceMap, default_lang: str | None) -> Item:
    where: tuple = ("questions", i)
    if not isinstance(node, dict):
        raise src.error("each question must be a mapping", where)
    unknown = sorted(set(node) - ITEM_KEYS)
    if unknown:
        raise src.error(f"unknown field '{unknown[0]}'", (*where, unknown[0]))
    for key in ("id", "question"):
        if not isinstance(node.get(key), str) or not node[key].strip():
            raise src.error(f"missing or empty '{key}'", (*where, key))
    lang = node.get("language", default_lang)
    if not isinstance(lang, str) or not lang:
        raise src.error("missing 'language' (e.g. en, de, es)", (*where, "language"))
    category = node.get("category")
    if category not in CATEGORIES:
        raise src.error(
            f"category must be one of {', '.join(CATEGORIES)}, not {category!r}",
            (*where, "category"),
        )
    answers = [k for k in ("gold", "expected_rows", "expect") if k in node]
    if not answers:
        raise src.error("needs one of 'gold', 'expected_rows' or 'expect'", where)
    if "expect" in node and len(answers) > 1:
        raise src.error("'expect' cannot be combined with 'gold' or 'expected_rows'", where)
    expect = node.get("expect")
    if expect is not None and expect not in EXPECTS:
        raise src.error(f"expect must be clarification or unanswerable, not {expect!r}", where)
    if category in EXPECTS and expect != category:
        raise src.error(f"a '{category}' item needs 'expect: {category}'", (*where, "category"))
    gold = plain(node["gold"]) if "gold" in node else None
    if gold is not None:
        if not isinstance(gold, dict):
            raise src.error("gold must be a mapping of Workbench.query arguments", (*where, "gold"))
        bad = sorted(set(gold) - GOLD_KEYS)
        if bad:
            raise src.error(
                f"unknown query argument '{bad[0]}' (allowed: {', '.join(sorted(GOLD_KEYS))})",
                (*where, "gold", bad[0]),
            )
    rows = plain(node["expected_rows"]) if "expected_rows" in node else None
    if rows is not None and not (isinstance(rows, list) and all(isinstance(r, list) for r in rows)):
        raise src.error("expected_rows must be a list of rows (lists)", (*where, "expected_rows"))
    ordered = node.get("ordered", False)
    if not isinstance(ordered, bool):
        raise src.error("ordered must be true or false", (*where, "ordered"))
    follow = node.get("follow_up_of")
    if follow is not None and not isinstance(follow, str):
        raise src.error("follow_up_of must be an id", (*where, "follow_up_of"))
    return Item(
        id=node["id"].strip(),
        question=node["question"].strip(),
        language=lang,
        category=category,
        gold=gold,
        expected_rows=rows,
        expect=expect,
        follow_up_of=follow,
        ordered=ordered,
        line=src.line(where),
    )


def _date(value: Any, src: SourceMap) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise src.error(
        "'today' must be a date (YYYY-MM-DD): relative time words are anchored on it",
        ("today",),
    )


def question_files(directory: str | Path) -> list[Path]:
    """The question files of a folder, sorted (``*.yml``)."""
    return sorted(Path(directory).glob("*.yml"))


__all__ = [
    "CATEGORIES",
    "EXPECTS",
    "GOLD_KEYS",
    "Item",
    "QuestionSet",
    "SpecError",
    "load_questions",
    "question_files",
]
