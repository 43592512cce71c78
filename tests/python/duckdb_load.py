"""Runs the DuckDB load `tributary-pipeline warehouse --dialect duckdb`
printed (DuckDB: an engine no one here wrote) and prints a JSON summary per
table: rows, distinct messageIds, column types as DuckDB sees them, and the
first line item's SKU of one row (nested values survived the load).

Usage: duckdb_load.py LOAD.sql"""

import json
import sys

import duckdb


def main():
    con = duckdb.connect()
    con.execute(open(sys.argv[1]).read())
    out = {}
    for schema, table in con.execute(
        "select table_schema, table_name from information_schema.tables where table_schema <> 'main'"
    ).fetchall():
        name = f"{schema}.{table}"
        rows, distinct = con.execute(f"select count(*), count(distinct message_id) from {name}").fetchone()
        types = dict(con.execute(
            "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall())
        info = {"rows": rows, "distinct_message_ids": distinct, "types": types}
        if "p_items" in types:
            row = con.execute(f"select p_items[1].sku from {name} where len(p_items) > 0 limit 1").fetchone()
            info["sample_items_sku"] = row[0] if row else None
        out[name] = info
    print(json.dumps(out))


if __name__ == "__main__":
    main()
