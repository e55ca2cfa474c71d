"""Workbench: a notebook-first analytics workbench over one governed semantic layer."""

from .api import Workbench, connect
from .security.principal import Principal

__all__ = ["Workbench", "connect", "Principal"]
__version__ = "0.1.0"
