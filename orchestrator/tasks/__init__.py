"""Thin task adapters. Every module in this package is imported, so a family adds a module only."""

from __future__ import annotations

import importlib
import pkgutil

import django
from django.apps import apps

# A worker imports this package before Django is set up; orchestrator.apps imports it while
# Django loads its apps (setting up again there would be a re-entrant populate).
if not (apps.ready or apps.loading):
    django.setup()

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
