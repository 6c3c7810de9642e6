"""The JSON document schema lists the same choices as the models: an export must always import."""
import json

import pytest

from breachdash.auth.models import Role
from breachdash.comms.models import Audience, Channel, Decision, PhaseStatus
from breachdash.config import PROJECT_ROOT
from breachdash.incidents.models import IncidentStatus, SectorFlag, TimePrecision
from breachdash.obligations.models import Applicability, ObligationStatus
from breachdash.remediation.models import ActionCategory, ActionStatus
from breachdash.scope.models import (
    Confidence,
    CountKind,
    CountUnit,
    ExposureStatus,
    FigureKind,
    Protection,
    RevisionSource,
)
from breachdash.timeline.models import EventKind

ENUMS = {
    "$defs/role": Role,
    "$defs/incident/properties/status": IncidentStatus,
    "$defs/incident/properties/sector_flags/items": SectorFlag,
    "$defs/precision": TimePrecision,
    "$defs/count_kind": CountKind,
    "$defs/population/properties/unit": CountUnit,
    "$defs/scope_revision/properties/figure_kind": FigureKind,
    "$defs/scope_revision/properties/data_types/items/properties/protection": Protection,
    "$defs/scope_revision/properties/unit": CountUnit,
    "$defs/scope_revision/properties/confidence": Confidence,
    "$defs/scope_revision/properties/source": RevisionSource,
    "$defs/scope_revision/properties/data_types/items/properties/status": ExposureStatus,
    "$defs/timeline_event/properties/kind": EventKind,
    "$defs/phase/properties/audience": Audience,
    "$defs/phase/properties/status": PhaseStatus,
    "$defs/phase/properties/messages/items/properties/audience": Audience,
    "$defs/phase/properties/messages/items/properties/sign_offs/items/properties/decision": Decision,
    "$defs/phase/properties/sends/items/properties/audience": Audience,
    "$defs/action/properties/category": ActionCategory,
    "$defs/action/properties/status": ActionStatus,
    "$defs/channel": Channel,
    "$defs/obligation/properties/applicability": Applicability,
    "$defs/obligation/properties/status": ObligationStatus,
}


def _enums(node, path=()):
    if isinstance(node, dict):
        if "enum" in node:
            yield "/".join(path), node["enum"]
            return
        for key, value in node.items():
            yield from _enums(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _enums(value, (*path, str(index)))


SCHEMA = dict(_enums(json.loads((PROJECT_ROOT / "data" / "incident.schema.json").read_text(encoding="utf-8"))))


def test_every_schema_choice_list_is_mapped_to_a_model_enum():
    assert set(SCHEMA) == set(ENUMS)


@pytest.mark.parametrize("path", sorted(ENUMS))
def test_schema_choices_equal_the_model_enum(path):
    assert sorted(SCHEMA[path]) == sorted(member.value for member in ENUMS[path])
