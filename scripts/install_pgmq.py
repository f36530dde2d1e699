"""Install pgmq from the SQL bundled in the `pgmq` PyPI package (local clusters only).

Hosted Supabase ships pgmq as an extension; a plain Postgres gets the same schema from the
package's SQL. The bundled script is not re-runnable, so an existing install is left alone.
"""

import sys

import psycopg
from pgmq import install_pgmq_from_sql


def main(url: str) -> None:
    with psycopg.connect(url, autocommit=False) as conn:
        installed = conn.execute("select to_regclass('pgmq.meta') is not null").fetchone()
        conn.rollback()
        if installed and installed[0]:
            return
        version = install_pgmq_from_sql(conn=conn)
        conn.commit()
        print(f"pgmq {version} installed from SQL", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
