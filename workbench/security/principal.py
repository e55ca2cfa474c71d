"""Who a query runs for: a user with roles and attributes (ABAC), e.g. region for a manager."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML

from ..semantic.errors import ModelError, QueryError, closest


@dataclass(frozen=True)
class Principal:
    user: str
    roles: frozenset[str] = frozenset()
    attributes: tuple[tuple[str, Any], ...] = ()
    display: str = field(default="", compare=False)

    @classmethod
    def of(cls, user: str, roles: Iterable[str] = (), **attributes: Any) -> Principal:
        return cls(user, frozenset(roles), tuple(sorted(attributes.items())))

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self.attributes)

    def has_any(self, roles: Iterable[str]) -> bool:
        return bool(self.roles & set(roles))

    @property
    def context_key(self) -> str:
        """Everything that can change what this principal sees. Part of every cache key, so a
        cached result is never served to a principal with another security context."""
        blob = json.dumps([self.user, sorted(self.roles), list(self.attributes)], default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]


class _PrincipalSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[str] = Field(default_factory=list, description="Roles (RBAC).")
    attributes: dict[str, Any] = Field(default_factory=dict, description="Attributes (ABAC).")
    description: str = Field("", description="Who this principal is, for people.")


class _PrincipalsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default: str | None = Field(None, description="Principal used when none is given.")
    principals: dict[str, _PrincipalSpec] = Field(description="{name: roles and attributes}.")


@dataclass
class Principals:
    by_name: dict[str, Principal]
    default: str | None = None
    source: str = ""

    def get(self, name: str | None) -> Principal:
        name = name or self.default
        if name is None:
            raise QueryError("No principal given and no default principal configured.")
        if name not in self.by_name:
            raise QueryError(
                f"Unknown principal '{name}' in {self.source or 'principals'}.",
                closest(name, self.by_name),
            )
        return self.by_name[name]


def load_principals(path: str | Path) -> Principals:
    path = Path(path)
    try:
        raw = YAML(typ="safe").load(path.read_text())
        spec = _PrincipalsFile.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        raise ModelError(err["msg"], str(path), None, ".".join(map(str, err["loc"]))) from None
    except Exception as e:  # YAML syntax
        raise ModelError(f"cannot read principals: {e}", str(path)) from None
    by_name = {
        n: Principal(n, frozenset(p.roles), tuple(sorted(p.attributes.items())))
        for n, p in spec.principals.items()
    }
    if spec.default and spec.default not in by_name:
        raise ModelError(f"default principal '{spec.default}' is not defined", str(path))
    return Principals(by_name, spec.default, str(path))
