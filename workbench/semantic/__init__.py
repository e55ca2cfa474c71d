"""The semantic layer: models in semantic/*.yml compiled to Ibis, with RLS/CLS and caching."""

from .errors import AccessDeniedError, ModelError, QueryError, SemanticError
from .querydef import QuerySpec

__all__ = ["AccessDeniedError", "ModelError", "QueryError", "SemanticError", "QuerySpec"]
