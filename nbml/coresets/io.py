"""Reading CSV and Parquet files in chunks, never the whole file at once."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from nbml.errors import NbmlError

_PARQUET = (".parquet", ".pq", ".parq")


def is_parquet(path):
    return str(path).lower().endswith(_PARQUET)


def _pyarrow_parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # optional dependency
        raise ImportError(
            "reading Parquet files needs pyarrow, which is not installed: run "
            "`pip install pyarrow`, or convert the file to CSV") from exc
    return pq


def check_file(path):
    path = Path(path)
    if not path.exists():
        raise NbmlError(f"file={str(path)!r} does not exist")
    if not path.is_file():
        raise NbmlError(f"file={str(path)!r} is not a file")
    return path


def read_columns(path):
    """Column names of a CSV or Parquet file, reading only its header/schema."""
    path = check_file(path)
    if is_parquet(path):
        return list(_pyarrow_parquet().ParquetFile(path).schema_arrow.names)
    return [str(c) for c in pd.read_csv(path, nrows=0).columns]


def iter_chunks(path, chunksize):
    """Yield DataFrames of at most ``chunksize`` rows from a CSV or Parquet file."""
    if not isinstance(chunksize, int) or isinstance(chunksize, bool) or chunksize < 1:
        raise NbmlError(f"chunksize must be a positive integer, got {chunksize!r}")
    path = check_file(path)
    if is_parquet(path):
        parquet = _pyarrow_parquet().ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=chunksize):
            yield batch.to_pandas()
        return
    with pd.read_csv(path, chunksize=chunksize) as reader:
        yield from reader


def count_rows(path, block=1 << 24):
    """Number of data rows (fast: newline count for CSV, metadata for Parquet).

    For CSV this counts lines, so quoted fields with embedded newlines make it an
    overestimate; it only serves to check ``size`` before the real pass over the file.
    """
    path = check_file(path)
    if is_parquet(path):
        return int(_pyarrow_parquet().ParquetFile(path).metadata.num_rows)
    lines, last = 0, b"\n"
    with open(path, "rb") as fh:
        while True:
            buf = fh.read(block)
            if not buf:
                break
            lines += buf.count(b"\n")
            last = buf[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)  # minus the header
