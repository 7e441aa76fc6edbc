"""Task tracker throughput: HTTP drain vs the same SQL by psycopg2, bulk submit vs COPY."""
