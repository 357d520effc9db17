"""Estate: the tenant model every other part builds on.

Owns property companies, communities (the unit of isolation), buildings, units, households,
residents, staff and who may see which community; the household import (preview, all or
nothing) and the estate pages and JSON API.

Offers: ``models`` (``Community``, ``Household``, ``Resident``, ``Staff``, …),
``residents`` (a login's households), ``household_import``.
"""
