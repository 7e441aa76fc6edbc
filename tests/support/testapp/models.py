"""A minimal stateful aggregate for testing the shared transition helper on its own."""

from __future__ import annotations

from django.db import models


class Widget(models.Model):
    state = models.CharField(max_length=20, default="new")
    touches = models.IntegerField(default=0)
