"""deploy/aws/omnitrack.yaml: lints clean, deploys on moto's CloudFormation (real HTTP: the stack's moto), and
its IoT policies let each device and gateway of the example fleet publish its own topic and nothing else.

IoT Core evaluates a policy as IAM does (an explicit Deny wins, else any Allow, else denied), after putting the
connection's thing name and attributes into the `${iot:...}` variables; `*` and `?` are the only wildcards, `+`
and `#` are plain characters. `_allowed` does exactly that for the handful of statement shapes the template uses.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import yaml
from botocore.parsers import ResponseParserError

from omnitrack.settings import Settings, project_root
from simulators.fleet.fleet import build_fleet, load_network
from streams.notify.policy import load_policy
from twin.telemetry import BATCH_TOPIC_FILTER, TELEMETRY_TOPIC_FILTER, device_topic, gateway_topic

TEMPLATE = project_root() / "deploy" / "aws" / "omnitrack.yaml"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}
IOT = "arn:aws:iot:eu-west-1:123456789012"
SNS = "arn:aws:sns:eu-west-1:123456789012"


def _template() -> dict[str, Any]:
    return yaml.safe_load(TEMPLATE.read_text())


def _resolve(node: Any, params: dict[str, str]) -> Any:
    """The template's values with `Fn::Sub` applied (`${!x}` stays a literal `${x}` for IoT to fill in)."""
    if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
        text = node["Fn::Sub"]
        text = re.sub(r"\$\{(?!!)([^}]+)\}", lambda m: params[m.group(1)], text)
        return text.replace("${!", "${")
    if isinstance(node, dict):
        return {k: _resolve(v, params) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, params) for v in node]
    return node


def _policy(name: str, **overrides: str) -> dict[str, Any]:
    t = _template()
    params = {k: str(v["Default"]) for k, v in t["Parameters"].items()} | PSEUDO | overrides
    return _resolve(t["Resources"][name]["Properties"]["PolicyDocument"], params)


@dataclass
class Connection:
    """What IoT Core knows about an MQTT connection when it evaluates a policy."""

    thing_name: str | None
    attributes: dict[str, str] = field(default_factory=dict)
    attached: bool = True

    def fill(self, resource: str) -> str | None:
        """The resource with the `${iot:...}` variables put in; None when one has no value (never matches)."""
        def value(m: re.Match[str]) -> str:
            var = m.group(1)
            if var == "iot:Connection.Thing.ThingName" and self.thing_name is not None:
                return self.thing_name
            attr = re.fullmatch(r"iot:Connection\.Thing\.Attributes\[(\w+)\]", var)
            if attr and attr.group(1) in self.attributes:
                return self.attributes[attr.group(1)]
            raise KeyError(var)

        try:
            return re.sub(r"\$\{([^}]+)\}", value, resource)
        except KeyError:
            return None


def _wildcard(pattern: str, value: str) -> bool:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value) is not None


def _listed(x: str | list[str]) -> list[str]:
    return [x] if isinstance(x, str) else list(x)


def _allowed(policy: dict[str, Any], action: str, resource: str, conn: Connection) -> bool:
    allow = False
    for st in policy["Statement"]:
        if not any(_wildcard(a, action) for a in _listed(st["Action"])):
            continue
        cond = st.get("Condition", {})
        assert set(cond) <= {"Bool"}, f"the evaluator knows Bool conditions only, not {sorted(cond)}"
        if cond.get("Bool", {}).get("iot:Connection.Thing.IsAttached") == "true" and not conn.attached:
            continue
        patterns = [conn.fill(r) for r in _listed(st["Resource"])]
        if any(p is not None and _wildcard(p, resource) for p in patterns):
            if st["Effect"] == "Deny":
                return False
            allow = True
    return allow


def test_template_passes_cfn_lint() -> None:
    from cfnlint.api import lint_file

    matches = lint_file(TEMPLATE)
    assert matches == [], "\n".join(str(m) for m in matches)


def test_every_device_and_gateway_of_the_fleet_may_publish_its_own_topic_only() -> None:
    fleet = build_fleet(load_network(Settings().network_file))
    device, gateway = _policy("DevicePolicy"), _policy("GatewayPolicy")
    sites = sorted({g.site_id for g in fleet.groups})
    checked = {"device": 0, "gateway": 0}
    for g in fleet.groups:
        other_site = sites[(sites.index(g.site_id) + 1) % len(sites)]
        if g.gateway_id is not None:
            name, policy, kind = g.gateway_id, gateway, "gateway"
            own, foreign = gateway_topic(g.site_id, name), [
                gateway_topic(other_site, name),  # its name, another site
                gateway_topic(g.site_id, name + "x"),  # its site, another gateway
                device_topic(g.site_id, name),  # a single-reading topic
            ]
            assert not _allowed(device, "iot:Publish", f"{IOT}:topic/{own}", Connection(name, {"site_id": g.site_id}))
        else:
            name, policy, kind = fleet.device_ids[g.start], device, "device"
            own, foreign = device_topic(g.site_id, name), [
                device_topic(other_site, name),
                device_topic(g.site_id, fleet.device_ids[(g.start + 1) % len(fleet)]),
                gateway_topic(g.site_id, name),
            ]
        conn = Connection(name, {"site_id": g.site_id, "kind": kind})
        assert _allowed(policy, "iot:Connect", f"{IOT}:client/{name}", conn), name
        assert _allowed(policy, "iot:Publish", f"{IOT}:topic/{own}", conn), own
        for topic in foreign:
            assert not _allowed(policy, "iot:Publish", f"{IOT}:topic/{topic}", conn), (name, topic)
        assert not _allowed(policy, "iot:Connect", f"{IOT}:client/{name}-2", conn)  # only as itself
        assert not _allowed(policy, "iot:Connect", f"{IOT}:client/{name}", Connection(name, attached=False))
        assert not _allowed(policy, "iot:Publish", f"{IOT}:topic/{own}", Connection(name))  # no site attribute
        for action, res in (("iot:Subscribe", "topicfilter/dt/#"), ("iot:Receive", f"topic/{own}")):
            assert not _allowed(policy, action, f"{IOT}:{res}", conn)
        checked[kind] += 1
    assert checked["device"] > 10 and checked["gateway"] > 10, checked


def test_the_bridge_may_read_what_it_subscribes_to_and_nothing_more() -> None:
    s = Settings()
    template = _template()["Parameters"]
    # the template's defaults are the engine's: a bridge deployed with default settings is let in
    assert s.bridge_share_group == template["BridgeShareGroup"]["Default"]
    assert s.bridge_client_id.startswith(template["BridgeClientIdPrefix"]["Default"])
    bridge = _policy("BridgePolicy")
    conn = Connection(None)  # the bridge need not be a registered thing
    assert _allowed(bridge, "iot:Connect", f"{IOT}:client/{s.bridge_client_id}", conn)
    assert not _allowed(bridge, "iot:Connect", f"{IOT}:client/NA-FAC-004-TH-1", conn)
    for f in (TELEMETRY_TOPIC_FILTER, BATCH_TOPIC_FILTER):
        assert _allowed(bridge, "iot:Subscribe", f"{IOT}:topicfilter/$share/{s.bridge_share_group}/{f}", conn)
        assert not _allowed(bridge, "iot:Subscribe", f"{IOT}:topicfilter/{f}", conn)  # unshared: every bridge all
    for topic in (device_topic("NA-FAC-004", "NA-FAC-004-TH-1"), gateway_topic("LN-0001", "LN-0001-GW")):
        assert _allowed(bridge, "iot:Receive", f"{IOT}:topic/{topic}", conn)
        assert not _allowed(bridge, "iot:Publish", f"{IOT}:topic/{topic}", conn)
    assert not _allowed(bridge, "iot:Receive", f"{IOT}:topic/$aws/things/x/shadow/update", conn)


def test_the_notifier_may_publish_to_the_routing_policy_topics_only() -> None:
    names = [t.name for t in load_policy(project_root() / "deploy" / "notify" / "routing.yaml").topics.values()]
    notifier, provisioner = _policy("NotifierPolicy"), _policy("ProvisionerPolicy")
    anyone = Connection(None)
    assert names
    for name in names:
        for action in ("sns:Publish", "sns:CreateTopic"):
            assert _allowed(notifier, action, f"{SNS}:{name}", anyone), (action, name)
        assert _allowed(provisioner, "sns:Subscribe", f"{SNS}:{name}", anyone)
        assert _allowed(provisioner, "sns:SetSubscriptionAttributes", f"{SNS}:{name}:{uuid.uuid4()}", anyone)
        assert not _allowed(notifier, "sns:DeleteTopic", f"{SNS}:{name}", anyone)
        assert not _allowed(notifier, "sns:Subscribe", f"{SNS}:{name}", anyone)  # a subscriber is an operator's call
    assert not _allowed(notifier, "sns:Publish", f"{SNS}:billing-alarms", anyone)


@pytest.mark.integration
def test_the_stack_deploys_on_cloudformation(stack_endpoints) -> None:  # noqa: ANN001
    url = stack_endpoints.sns_url  # the stack's moto answers every service it mocks, CloudFormation too
    if url is None:
        pytest.skip("the stack runs no moto (real AWS configured)")
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name="eu-west-1")
    cfn, iot, iam = (session.client(s, endpoint_url=url) for s in ("cloudformation", "iot", "iam"))
    prefix = f"t{uuid.uuid4().hex[:10]}"
    name = f"{prefix}-omnitrack"
    cfn.create_stack(StackName=name, TemplateBody=TEMPLATE.read_text(), Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": "NamePrefix", "ParameterValue": prefix}])
    try:
        cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]}
        device = iot.get_policy(policyName=f"{prefix}-device")["policyDocument"]
        assert "topic/dt/${iot:Connection.Thing.Attributes[site_id]}/${iot:Connection.Thing.ThingName}/telemetry" \
            in device, device
        assert "${!" not in device
        # by name: moto's Ref of an AWS::IoT::Policy is not its name (CloudFormation's is), so not via outputs
        bridge = iot.get_policy(policyName=f"{prefix}-bridge")["policyDocument"]
        assert "topicfilter/$share/omnitrack/dt/+/+/telemetry" in bridge
        thing_type = iot.describe_thing_type(thingTypeName=f"{prefix}-device")
        assert thing_type["thingTypeProperties"]["searchableAttributes"] == ["site_id", "kind"]
        notifier = iam.get_policy(PolicyArn=outputs["NotifierPolicyArn"])["Policy"]
        assert notifier["PolicyName"] == f"{prefix}-notifier"
    finally:
        try:
            cfn.delete_stack(StackName=name)
        except ResponseParserError:  # moto cannot delete the IoT policies it filed under their repr (best effort)
            pass
