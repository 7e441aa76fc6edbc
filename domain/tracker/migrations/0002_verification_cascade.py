from django.db import migrations

# A closed task is deleted by one SQL statement; its verification rows go with it in the database
# (the original's ON DELETE CASCADE), not through the ORM.
FORWARD = """
ALTER TABLE tracker_workerverifiestask
    ADD CONSTRAINT tracker_verification_task_fk FOREIGN KEY (task_id)
    REFERENCES tracker_task (id) ON DELETE CASCADE;
"""
BACKWARD = "ALTER TABLE tracker_workerverifiestask DROP CONSTRAINT tracker_verification_task_fk;"


def _on_postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("tracker", "0001_initial")]

    operations = [migrations.RunPython(_on_postgres(FORWARD), _on_postgres(BACKWARD))]
