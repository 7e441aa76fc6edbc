"""The builtin errors (specs/scale-and-flotilla.md A.10), seeded as rows."""

from __future__ import annotations

from django.db import migrations

from domain.jobs.error_catalog import BUILTIN_ERRORS


def seed_builtin_errors(apps, schema_editor):
    Error = apps.get_model("jobs", "Error")
    for name, title, description, category, retried in BUILTIN_ERRORS:
        Error.objects.update_or_create(
            job_type_name=None,
            name=name,
            defaults={
                "title": title,
                "description": description,
                "category": category,
                "is_builtin": True,
                "should_be_retried": retried,
            },
        )


def remove_builtin_errors(apps, schema_editor):
    apps.get_model("jobs", "Error").objects.filter(is_builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("jobs", "0001_initial")]

    operations = [migrations.RunPython(seed_builtin_errors, remove_builtin_errors)]
