"""Security services: principals, policies. (Tokens, audit and rate limits come with the security issue.)"""

from .principal import Principal, load_principals

__all__ = ["Principal", "load_principals"]
