"""Reads a Tributary lake directory with pyarrow (a Parquet reader no one
here wrote) and prints a JSON summary: rows, distinct messageIds, column
types per event, and rows in the dead-letter and error locations."""

import json
import pathlib
import sys

import pyarrow.parquet as pq


def main():
    root = pathlib.Path(sys.argv[1])
    summary = {"rows": 0, "message_ids": set(), "events": {}, "dead_letter_rows": 0, "error_rows": 0, "files": 0}
    for path in sorted(root.rglob("*.parquet")):
        table = pq.read_table(path)
        summary["files"] += 1
        rel = path.relative_to(root).parts
        if rel[0] == "dead_letter":
            summary["dead_letter_rows"] += table.num_rows
            continue
        if rel[0] == "_errors":
            summary["error_rows"] += table.num_rows
            continue
        event = rel[0].removeprefix("event=")
        summary["rows"] += table.num_rows
        summary["message_ids"].update(table.column("message_id").to_pylist())
        types = {f.name: str(f.type) for f in table.schema}
        info = summary["events"].setdefault(event, {"rows": 0, "types": types, "sample": None})
        info["rows"] += table.num_rows
        if info["sample"] is None and table.num_rows:
            row = table.slice(0, 1).to_pylist()[0]
            info["sample"] = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
    summary["distinct_message_ids"] = len(summary.pop("message_ids"))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
