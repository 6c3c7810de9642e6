import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from breachdash.synth import AFFECTED_SCHEMA, DELIVERY_SCHEMA, write_synthetic


def test_synth__writes_csv_and_parquet_with_documented_columns(tmp_path):
    paths = write_synthetic(customers=600_000, out_dir=tmp_path, seed=3)
    assert sorted(p.name for p in paths) == ["affected_customers.csv", "affected_customers.parquet",
                                             "delivery_status.csv", "delivery_status.parquet"]
    affected = pq.read_table(tmp_path / "affected_customers.parquet")
    assert affected.schema.names == AFFECTED_SCHEMA.names and affected.num_rows == 600_000
    ids = affected.column("customer_id").to_pylist()
    assert len(set(ids)) == 600_000, "pseudonymous ids are unique across chunks"
    csv = pacsv.read_csv(tmp_path / "affected_customers.csv")
    assert csv.column("customer_id").to_pylist() == ids
    delivery = pq.read_table(tmp_path / "delivery_status.parquet")
    assert delivery.schema.names == DELIVERY_SCHEMA.names
    assert delivery.num_rows == 600_000 + 60_000  # one event each, plus an earlier 'sent' for every tenth
    assert set(delivery.column("customer_id").to_pylist()) == set(ids)


def test_synth__same_seed_same_files(tmp_path):
    write_synthetic(customers=1000, out_dir=tmp_path / "a", seed=5, formats=["csv"])
    write_synthetic(customers=1000, out_dir=tmp_path / "b", seed=5, formats=["csv"])
    assert (tmp_path / "a" / "affected_customers.csv").read_bytes() == (tmp_path / "b" / "affected_customers.csv").read_bytes()
