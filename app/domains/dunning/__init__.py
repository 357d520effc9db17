"""Dunning (催缴): one process per overdue bill — tiered reminders, a front-desk call, the
manager's review, and opt-in, reversible door suspension with exemptions (never water, power,
heat or gas). Reads bills through ``fees``; sends door commands through ``security``."""
