"""Who a REST request runs as: a Jupyter identity mapped to a principal in principals.yml.

Jupyter decides *whether* someone is logged in (token, password or an identity provider);
the semantic layer decides *what* they may see, through the principal's roles and attributes.
The mapping between the two is configuration, never a request parameter, so a caller cannot
pick a more privileged principal by asking for one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PrincipalMapper:
    """Maps a Jupyter user name to a principal name.

    ``mapping`` is ``{jupyter user name: principal name}``; a ``"*"`` key is the fallback for
    every other user.  Without a match the ``default`` applies; an empty ``default`` means
    "the default principal of principals.yml".
    """

    mapping: dict[str, str] = field(default_factory=dict)
    default: str = ""

    def principal_name(self, user: Any) -> str | None:
        """The principal name for a Jupyter ``User`` (or a plain user name); ``None`` means
        principals.yml's own default."""
        name = getattr(user, "username", None) or (user if isinstance(user, str) else "")
        if name and name in self.mapping:
            return self.mapping[name]
        if "*" in self.mapping:
            return self.mapping["*"]
        return self.default or None
