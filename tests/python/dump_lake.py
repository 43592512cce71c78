"""Prints every Parquet file of a Tributary lake directory as pyarrow reads
it: one JSON line per file with its path, column types and rows, so a test
can search the stored values (the files are compressed, so their bytes
cannot be searched)."""

import json
import pathlib
import sys

import pyarrow.parquet as pq


def main():
    root = pathlib.Path(sys.argv[1])
    for path in sorted(root.rglob("*.parquet")):
        table = pq.read_table(path)
        print(json.dumps({
            "file": str(path.relative_to(root)),
            "types": {f.name: str(f.type) for f in table.schema},
            "rows": table.to_pylist(),
        }, default=str))


if __name__ == "__main__":
    main()
