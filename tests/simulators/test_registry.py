"""simulators/fleet/registry.py: the fleet registered in IoT Core, against moto's IoT (real HTTP: the stack's moto)
with the template of deploy/aws/omnitrack.yaml deployed first; `omnitrack simulate register` as a user runs it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from cryptography import x509

from omnitrack.settings import Settings, project_root
from simulators.fleet.fleet import build_fleet, load_network
from simulators.fleet.registry import identities

pytestmark = pytest.mark.integration

TEMPLATE = project_root() / "deploy" / "aws" / "omnitrack.yaml"
MOTO_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_REGION": "eu-west-1"}


def _register(url: str, prefix: str, cert_dir: Path, limit: int) -> tuple[int, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | MOTO_ENV | {"AWS_ENDPOINT_URL": url}
    out = subprocess.run([sys.executable, "-m", "omnitrack.cli", "simulate", "register", "--cert-dir", str(cert_dir),
                          "--name-prefix", prefix, "--limit", str(limit), "--json"],
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.stdout, out.stderr
    return out.returncode, json.loads(out.stdout.strip().splitlines()[-1])


def _certificates(iot) -> int:  # noqa: ANN001
    return sum(len(page["certificates"]) for page in iot.get_paginator("list_certificates").paginate())


def test_register_the_fleet_then_again(stack_endpoints, tmp_path: Path) -> None:  # noqa: ANN001
    url = stack_endpoints.sns_url
    if url is None:
        pytest.skip("the stack runs no moto (real AWS configured)")
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name="eu-west-1")
    cfn, iot = session.client("cloudformation", endpoint_url=url), session.client("iot", endpoint_url=url)
    prefix = f"r{uuid.uuid4().hex[:10]}"
    cfn.create_stack(StackName=prefix, TemplateBody=TEMPLATE.read_text(), Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": "NamePrefix", "ParameterValue": prefix}])
    cfn.get_waiter("stack_create_complete").wait(StackName=prefix, WaiterConfig={"Delay": 1, "MaxAttempts": 60})

    fleet = build_fleet(load_network(Settings().network_file), seed=20261126)
    everyone = identities(fleet)
    # the first identities of the fleet, and enough of them to hold both kinds
    limit = next(i for i in range(1, len(everyone) + 1) if {x.kind for x in everyone[:i]} == {"device", "gateway"})
    limit = max(limit, 6)
    mine = everyone[:limit]
    cert_dir = tmp_path / "certs"
    certs_before = _certificates(iot)

    rc, report = _register(url, prefix, cert_dir, limit)
    assert rc == 0 and sorted(report["created"]) == sorted(x.name for x in mine) and not report["present"]
    for ident in mine:
        thing = iot.describe_thing(thingName=ident.name)
        assert thing["thingTypeName"] == f"{prefix}-device"
        assert thing["attributes"] == {"site_id": ident.site_id, "kind": ident.kind}
        [principal] = iot.list_thing_principals(thingName=ident.name)["principals"]
        policies = [p["policyName"] for p in iot.list_attached_policies(target=principal)["policies"]]
        assert policies == [f"{prefix}-{ident.kind}"]
        key, crt = cert_dir / f"{ident.name}.key", cert_dir / f"{ident.name}.crt"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        cert = x509.load_pem_x509_certificate(crt.read_bytes())
        described = iot.describe_certificate(certificateId=principal.rsplit("/", 1)[1])["certificateDescription"]
        assert described["status"] == "ACTIVE"
        assert x509.load_pem_x509_certificate(described["certificatePem"].encode()) == cert
    assert _certificates(iot) == certs_before + len(mine)

    # again: nothing new in IoT Core, nothing rewritten here
    stamps = {p.name: p.stat().st_mtime_ns for p in cert_dir.iterdir()}
    rc, again = _register(url, prefix, cert_dir, limit)
    assert rc == 0 and again["created"] == [] and sorted(again["present"]) == sorted(x.name for x in mine)
    assert _certificates(iot) == certs_before + len(mine)
    assert {p.name: p.stat().st_mtime_ns for p in cert_dir.iterdir()} == stamps

    # a thing whose key is not here is reported, not given a second certificate (exit 4)
    (cert_dir / f"{mine[0].name}.key").unlink()
    rc, third = _register(url, prefix, cert_dir, limit)
    assert rc == 4 and third["key_elsewhere"] == [mine[0].name] and third["created"] == []
    assert _certificates(iot) == certs_before + len(mine)
