"""orchestrator/wsgi.py: what a web worker has loaded before its first request."""

from __future__ import annotations

import subprocess
import sys

from tests.support.processes import ROOT


def test_a_web_worker_loads_every_familys_routes_before_its_first_request(subprocess_env):
    probe = (
        "import sys, orchestrator.wsgi\n"
        "print(sorted(m for m in ('orchestrator.urls', 'api.tracker.tasks', 'api.scale')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert out.strip() == "['api.scale', 'api.tracker.tasks', 'orchestrator.urls']"
