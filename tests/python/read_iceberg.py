"""Reads a Tributary lake's Iceberg tables with PyIceberg (a reader no one
here wrote), through the same SQL catalog the pipeline commits to, and
prints a JSON summary: per table its rows, column types, snapshots and a
sample row; over all tables the rows and distinct messageIds, and the
data files the tables reference.

Usage: read_iceberg.py CATALOG_URI WAREHOUSE NAMESPACE
CATALOG_URI is SQLAlchemy's (sqlite:////abs/catalog.db). For an S3 store,
the environment names the endpoint: S3_ENDPOINT, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION."""

import json
import os
import sys

from pyiceberg.catalog.sql import SqlCatalog


def main():
    uri, warehouse, namespace = sys.argv[1:4]
    props = {"uri": uri, "warehouse": warehouse}
    if os.environ.get("S3_ENDPOINT"):
        props.update({
            "s3.endpoint": os.environ["S3_ENDPOINT"],
            "s3.access-key-id": os.environ["AWS_ACCESS_KEY_ID"],
            "s3.secret-access-key": os.environ["AWS_SECRET_ACCESS_KEY"],
            "s3.region": os.environ.get("AWS_REGION", "us-east-1"),
        })
    catalog = SqlCatalog("tributary", **props)
    summary = {"rows": 0, "tables": {}, "files": []}
    ids = set()
    for ident in catalog.list_tables(namespace):
        table = catalog.load_table(ident)
        data = table.scan().to_arrow()
        name = ident[-1]
        snapshot = table.current_snapshot()
        info = {
            "rows": data.num_rows,
            "types": {f.name: str(f.type) for f in data.schema},
            "iceberg_types": {f.name: str(f.field_type) for f in table.schema().fields},
            "snapshots": len(table.metadata.snapshots),
            "offsets": json.loads(snapshot.summary.additional_properties.get("tributary.offsets", "{}")) if snapshot else {},
            "sample": None,
        }
        if data.num_rows:
            row = data.slice(0, 1).to_pylist()[0]
            info["sample"] = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        summary["tables"][name] = info
        summary["rows"] += data.num_rows
        ids.update(data.column("message_id").to_pylist())
        summary["files"] += [t.file.file_path for t in table.scan().plan_files()]
    summary["distinct_message_ids"] = len(ids)
    print(json.dumps(summary, default=str))


if __name__ == "__main__":
    main()
