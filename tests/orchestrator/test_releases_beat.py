"""The releases family's beat entries in celeryconfig.beat_schedule, at their documented defaults
(docs/releases.md, "Beat"). The suite itself runs with shorter intervals, so the schedule is read
in a fresh interpreter whose environment sets none of the family's settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.processes import ROOT

READ_SCHEDULE = """
import json
from celery.schedules import crontab
import celeryconfig

out = {}
for name, entry in celeryconfig.beat_schedule.items():
    if not name.startswith("releases."):
        continue
    schedule = entry["schedule"]
    if isinstance(schedule, crontab):
        schedule = {"minute": sorted(schedule.minute), "hour": sorted(schedule.hour)}
    out[name] = {"task": entry["task"], "schedule": schedule, "kwargs": entry.get("kwargs", {})}
print(json.dumps(out))
"""


def _schedule_with_defaults() -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RELEASES_") and k != "DATASERVICE_URL"
    }
    done = subprocess.run(
        [sys.executable, "-c", READ_SCHEDULE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_beat_schedules_every_releases_sweep_at_its_default_interval():
    assert _schedule_with_defaults() == {
        "releases.health_checks": {
            "task": "releases.health_checks",
            "schedule": 30.0,
            "kwargs": {},
        },
        "releases.poll_tasks": {
            "task": "releases.poll_tasks",
            "schedule": 10.0,
            "kwargs": {"interval": 10.0},
        },
        "releases.sweep_timeouts": {
            "task": "releases.sweep_timeouts",
            "schedule": 60.0,
            "kwargs": {"task_timeout": 160000.0, "release_timeout": 360000.0},
        },
        "releases.reconcile": {
            "task": "releases.reconcile",
            "schedule": 30.0,
            "kwargs": {"stale_after": 120.0},
        },
        "releases.sync_studies": {
            "task": "releases.sync_studies",
            "schedule": {"minute": [0], "hour": [4]},
            "kwargs": {},
        },
    }


def test_every_releases_beat_task_is_registered_under_its_name():
    from orchestrator.celery import app

    app.loader.import_default_modules()
    for name in _schedule_with_defaults():
        assert name in app.tasks
