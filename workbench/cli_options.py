"""Command-line options shared by the `workbench` commands, checked against the registries
rather than a copied list of names (a plugin's engine is accepted as soon as it is installed)."""

from __future__ import annotations

import typer


def engine_name(value: str | None) -> str | None:
    """typer callback for `--engine`: a registered engine name, or a usage error listing them."""
    if value is None:
        return None
    from .engines.base import ENGINES, UnknownEngine

    try:
        ENGINES.get(value)
    except UnknownEngine as e:  # names the choices, with a "did you mean"
        raise typer.BadParameter(str(e)) from None
    return value
