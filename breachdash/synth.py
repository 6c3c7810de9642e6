"""Synthetic per-customer files for imports and benchmarks (formats: docs/file-formats.md).

Written in chunks, so memory stays flat at any size. Customer ids are pseudonymous: a
bijection of the row number, so they are unique without being sequential.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CHUNK_ROWS = 250_000
_ID_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd, so i -> i*m mod 2^64 is one-to-one

REGIONS = ["US-CA", "US-TX", "US-NY", "US-FL", "US-WA", "US-IL", "US-MA", "DE", "FR", "IE", "NL", "ES", "GB"]
REGION_WEIGHTS = [0.21, 0.14, 0.11, 0.09, 0.05, 0.06, 0.04, 0.08, 0.06, 0.03, 0.04, 0.03, 0.06]
SEGMENTS = ["rewards-standard", "rewards-gold", "business"]
SEGMENT_WEIGHTS = [0.72, 0.2, 0.08]
SYSTEMS = ["loyalty-db-02", "pay-tok-01"]
DATA_TYPE_SETS = [
    "name;email;phone;postal_address",
    "name;email;postal_address",
    "name;email;phone;postal_address;date_of_birth;credentials",
    "name;email;phone;postal_address;payment_card",
    "name;email;credentials",
]
DATA_TYPE_SET_WEIGHTS = [0.35, 0.2, 0.25, 0.14, 0.06]
CHANNELS = ["email", "sms", "postal letter"]
CHANNEL_WEIGHTS = [0.8, 0.12, 0.08]
STATUSES = ["sent", "delivered", "bounced", "failed", "opened", "replied", "opted_out"]
STATUS_WEIGHTS = [0.09, 0.55, 0.05, 0.01, 0.25, 0.03, 0.02]

AFFECTED_SCHEMA = pa.schema([
    ("customer_id", pa.string()), ("region", pa.string()), ("segment", pa.string()),
    ("system", pa.string()), ("data_types", pa.string()),
])
DELIVERY_SCHEMA = pa.schema([
    ("customer_id", pa.string()), ("phase", pa.string()), ("channel", pa.string()), ("status", pa.string()),
    ("event_time", pa.string()), ("vendor_ref", pa.string()),
])
EVENT_SPREAD_SECONDS = 5 * 24 * 3600


def default_sent_at() -> datetime:
    """Six days ago on the hour: every event (up to five days later) is in the past."""
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(days=6)


def customer_ids(start: int, stop: int) -> list[str]:
    numbers = np.arange(start + 1, stop + 1, dtype=np.uint64) * _ID_MULTIPLIER
    return [f"cus_{value:016x}" for value in numbers.tolist()]


def _pick(rng: np.random.Generator, values: list[str], weights: list[float], size: int) -> pa.Array:
    indices = rng.choice(len(values), size=size, p=np.array(weights) / sum(weights))
    return pa.DictionaryArray.from_arrays(pa.array(indices, type=pa.int32()), pa.array(values)).cast(pa.string())


def affected_chunks(customers: int, seed: int) -> Iterator[pa.Table]:
    rng = np.random.default_rng(seed)
    for start in range(0, customers, CHUNK_ROWS):
        size = min(CHUNK_ROWS, customers - start)
        data_type_sets = _pick(rng, DATA_TYPE_SETS, DATA_TYPE_SET_WEIGHTS, size)
        has_card = np.array([s.endswith("payment_card") for s in data_type_sets.to_pylist()])
        yield pa.table({
            "customer_id": pa.array(customer_ids(start, start + size)),
            "region": _pick(rng, REGIONS, REGION_WEIGHTS, size),
            "segment": _pick(rng, SEGMENTS, SEGMENT_WEIGHTS, size),
            "system": pa.array(np.where(has_card, SYSTEMS[1], SYSTEMS[0])),
            "data_types": data_type_sets,
        }, schema=AFFECTED_SCHEMA)


def delivery_chunks(customers: int, seed: int, sent_at: datetime, phase: str = "initial_notice") -> Iterator[pa.Table]:
    """One event per customer, plus an earlier 'sent' event for every tenth one (so the
    latest-event-wins rule has something to do)."""
    rng = np.random.default_rng(seed + 1)
    for start in range(0, customers, CHUNK_ROWS):
        size = min(CHUNK_ROWS, customers - start)
        ids = customer_ids(start, start + size)
        channels = _pick(rng, CHANNELS, CHANNEL_WEIGHTS, size)
        statuses = _pick(rng, STATUSES, STATUS_WEIGHTS, size)
        offsets = rng.integers(60, EVENT_SPREAD_SECONDS, size=size)
        times = [(sent_at + timedelta(seconds=int(s))).isoformat() for s in offsets]
        refs = [f"vnd-{start + i:09d}" for i in range(size)]
        table = pa.table({"customer_id": ids, "phase": [phase] * size, "channel": channels,
                          "status": statuses, "event_time": times, "vendor_ref": refs}, schema=DELIVERY_SCHEMA)
        earlier = np.arange(0, size, 10)
        extra = pa.table({
            "customer_id": [ids[i] for i in earlier], "phase": [phase] * len(earlier),
            "channel": channels.take(pa.array(earlier)), "status": ["sent"] * len(earlier),
            "event_time": [sent_at.isoformat()] * len(earlier),
            "vendor_ref": [refs[i] + "-s" for i in earlier]}, schema=DELIVERY_SCHEMA)
        yield pa.concat_tables([extra, table])


def _write(chunks: Iterator[pa.Table], schema: pa.Schema, stem: Path, formats: list[str]) -> list[Path]:
    paths, csv_writer, parquet_writer = [], None, None
    if "csv" in formats:
        paths.append(stem.with_suffix(".csv"))
        csv_writer = pacsv.CSVWriter(str(paths[-1]), schema)
    if "parquet" in formats:
        paths.append(stem.with_suffix(".parquet"))
        parquet_writer = pq.ParquetWriter(str(paths[-1]), schema, compression="zstd")
    try:
        for chunk in chunks:
            if csv_writer:
                csv_writer.write_table(chunk)
            if parquet_writer:
                parquet_writer.write_table(chunk)
    finally:
        if csv_writer:
            csv_writer.close()
        if parquet_writer:
            parquet_writer.close()
    return paths


def write_synthetic(
    *, customers: int, out_dir: Path, seed: int = 7, formats: list[str] | None = None,
    sent_at: datetime | None = None, phase: str = "initial_notice", progress: Callable[[str], None] = lambda _msg: None,
) -> list[Path]:
    if customers < 1:
        raise ValueError("--customers must be at least 1")
    formats = formats or ["csv", "parquet"]
    out_dir.mkdir(parents=True, exist_ok=True)
    progress(f"writing {customers:,} affected customers …")
    paths = _write(affected_chunks(customers, seed), AFFECTED_SCHEMA, out_dir / "affected_customers", formats)
    progress(f"writing the delivery-status report (about {customers * 1.1:,.0f} events) …")
    paths += _write(delivery_chunks(customers, seed, sent_at or default_sent_at(), phase), DELIVERY_SCHEMA,
                    out_dir / "delivery_status", formats)
    return paths
