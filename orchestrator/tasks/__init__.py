"""Thin task adapters. Every module in this package is imported, so a family adds a module only."""

from __future__ import annotations

import importlib
import pkgutil

import django

django.setup()

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
