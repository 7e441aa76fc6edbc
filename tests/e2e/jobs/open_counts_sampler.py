"""A third process for the scheduler concurrency test: samples, as fast as it can, how many
executions each job type has open, on any cluster (one SQL statement: one consistent
snapshot), and writes the
highest count seen per job type and the number of samples as JSON when told to stop.

    python open_counts_sampler.py DATABASE_URL CLUSTER STOP_FILE OUT_FILE
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import psycopg2

OPEN_PER_TYPE = """
    SELECT j.job_type_id, count(*)
    FROM executions_execution e JOIN jobs_job j ON e.owner_id = j.id::text
    WHERE e.owner_type = 'jobs.job' AND e.state IN ('QUEUED', 'PENDING', 'RUNNING')
    GROUP BY j.job_type_id
"""


def main(database_url: str, cluster: str, stop_file: str, out_file: str) -> None:
    connection = psycopg2.connect(database_url)
    connection.autocommit = True
    highest: dict[int, int] = {}
    samples = 0
    with connection.cursor() as cursor:
        while not Path(stop_file).exists():
            cursor.execute(OPEN_PER_TYPE)
            for type_id, count in cursor.fetchall():
                highest[type_id] = max(highest.get(type_id, 0), count)
            samples += 1
            time.sleep(0.002)
    Path(out_file).write_text(json.dumps({"samples": samples, "highest": highest}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
