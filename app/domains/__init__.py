"""The business domains. Each folder owns one area of property management end to end.

Base domains, used by everything (the platform included): ``estate`` (the tenant model),
``devices`` (registry, profiles, device bus, inbound events) and ``notifications``. Every
other domain is a leaf: it uses the platform and the base domains, and another leaf only
through the names that leaf's ``__init__`` exports. ``docs/architecture.md`` has the picture;
the import contracts in ``pyproject.toml`` enforce it.
"""
