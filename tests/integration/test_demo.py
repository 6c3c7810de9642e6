"""The demo incident: realistic, deterministic, and written through the real services."""
from sqlalchemy import text

from breachdash.audit.service import verify_chain
from breachdash.auth.rules import system_actor
from breachdash.db import make_engine, migrate
from breachdash.demo import seed_demo
from breachdash.reference import region_country
from breachdash.scope.service import revision_history
from breachdash.transfer import dumps, export_incident
from tests.conftest import DEMO_ANCHOR


def test_demo__same_seed_and_anchor_give_the_same_incident(tmp_path):
    documents = []
    for name in ("a", "b"):
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        migrate(engine)
        incident = seed_demo(engine, anchor=DEMO_ANCHOR)
        documents.append(dumps(export_incident(engine, actor=system_actor(), incident_id=incident.id)))
        engine.dispose()
    assert documents[0] == documents[1]


def test_demo__shape_of_the_story(demo_engine):
    with demo_engine.connect() as connection:
        q = lambda sql: connection.execute(text(sql)).all()  # noqa: E731
        revisions = q("SELECT seq, unit, low, best, high, recorded_at FROM scope_revisions ORDER BY seq")
        assert len(revisions) == 7
        assert revisions[0].unit == "records" and revisions[-1].unit == "individuals"
        spreads = [(r.high - r.low) / r.best for r in revisions[1:]]
        assert spreads == sorted(spreads, reverse=True), "estimates converge"
        history = revision_history(demo_engine, actor=system_actor(), incident_id=1)
        assert (history["recorded_at"].iloc[-1] - history["recorded_at"].iloc[0]).days >= 7
        regions = [row.region for row in q("SELECT DISTINCT region FROM scope_region_counts")]
        countries = {region_country(code) for code in regions}
        assert any(code.startswith("US-") for code in regions) and {"DE", "FR"} <= countries
        financial = q("SELECT t.status FROM scope_data_type_counts t JOIN scope_revisions r ON r.id = t.revision_id "
                      "WHERE r.seq = 7 AND t.data_type = 'payment_card'")
        assert financial[0].status == "confirmed"
        assert 25 <= q("SELECT count(*) FROM timeline_events")[0][0] <= 60
        statuses = dict(q("SELECT key, status FROM comms_phases"))
        assert statuses["initial_notice"] == "sent" and statuses["remediation_update"] == "not started"
        assert q("SELECT count(*) FROM sign_offs")[0][0] >= 5
        delivered, targeted = q("SELECT sum(delivered), sum(targeted) FROM outreach_counts")[0]
        assert 0 < delivered < targeted
        assert {row.email.split("@")[0] for row in q("SELECT email FROM users WHERE is_demo")} == \
            {"ceo", "pr", "legal", "architect", "admin"}
    assert verify_chain(demo_engine).ok


def test_demo__history_is_written_in_time_order(demo_engine):
    """The demo replays the incident day by day: audit and timeline recording times never go back."""
    from breachdash.audit.service import audit_frame
    from breachdash.timeline.service import timeline_frame

    audit = audit_frame(demo_engine, actor=system_actor(), limit=10_000).sort_values("#")
    assert audit["when (UTC)"].is_monotonic_increasing
    events = timeline_frame(demo_engine, actor=system_actor(), incident_id=1).sort_values("id")
    assert events["recorded_at"].is_monotonic_increasing
