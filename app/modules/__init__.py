"""Modules as data: the menu catalogue, module settings and per-community activation."""
