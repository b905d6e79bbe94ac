"""Alert lifecycle as pure domain code, and the public alert contract (no I/O, no clock reads).

Per site (the partition key) the stream agent keeps one `SiteAlerts` and calls:
`evaluate(state, condition, risk, now)` per rule evaluation, `apply_command(state, command, now)` per operator
command, `tick(state, now)` from a timer; each returns `(new_state, [AlertEvent])` to store and publish.
Conditions come from the rule catalogue (`twin.alerts.catalogue`); consumers rebuild state with `rebuild`.
"""

from twin.alerts.catalogue import (
    DEVICE_RULES,
    StaticRule,
    Subject,
    anomaly_condition,
    health_condition,
    inventory_condition,
    metric_conditions,
    silence_condition,
)
from twin.alerts.contract import alerts_json_schema, decode_event, encode_event, rebuild
from twin.alerts.errors import AlertError, NaiveTimeError, SiteMismatchError, UnitError, UnknownAlertError
from twin.alerts.models import (
    SCHEMA_VERSION,
    Alert,
    AlertCommand,
    AlertEvent,
    AlertTransition,
    Comment,
    Condition,
    Severity,
    SubjectKind,
    TransitionKind,
    alert_id,
    dedup_key,
)
from twin.alerts.policy import DEFAULT_POLICY, AlertPolicy
from twin.alerts.severity import RiskContext, risk_table, severity_for
from twin.alerts.site import SiteAlerts, alerts_of, apply_command, evaluate, tick

__all__ = [
    "DEFAULT_POLICY", "DEVICE_RULES", "SCHEMA_VERSION", "Alert", "AlertCommand", "AlertError", "AlertEvent",
    "AlertPolicy", "AlertTransition", "Comment", "Condition", "NaiveTimeError", "RiskContext", "Severity",
    "SiteAlerts", "SiteMismatchError", "StaticRule", "Subject", "SubjectKind", "TransitionKind", "UnitError",
    "UnknownAlertError", "alert_id", "alerts_json_schema", "alerts_of", "anomaly_condition", "apply_command",
    "decode_event", "dedup_key", "encode_event", "evaluate", "health_condition", "inventory_condition",
    "metric_conditions", "rebuild", "risk_table", "severity_for", "silence_condition", "tick",
]
