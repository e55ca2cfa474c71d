"""Ask in plain language: an offline engine from questions to governed semantic queries.

    from workbench.nlq import NLQEngine
    engine = NLQEngine(wb)                  # every namespace; NLQEngine(wb, namespace="retail")
    conv = engine.conversation()
    ans = conv.ask("revenue by region last quarter")
    ans.kind, ans.frame, ans.query, ans.tokens, ans.sentence

See docs/nlq.md for what it understands and how to make a model answerable.
"""

from .answer import Answer
from .conversation import Conversation
from .engine import NLQEngine

__all__ = ["Answer", "Conversation", "NLQEngine"]
