"""`python -m tests.support.call module:function '{"kw": 1}' START_AT`: one concurrent caller.

Sets Django up, sleeps until START_AT (a wall-clock instant shared by all callers), calls the
function and prints its JSON result on the last line.
"""

from __future__ import annotations

import importlib
import json
import sys
import time

import django

if __name__ == "__main__":
    target, kwargs, start_at = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3])
    django.setup()
    module_name, func_name = target.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    time.sleep(max(0.0, start_at - time.time()))
    print(json.dumps(func(**kwargs), default=str))
