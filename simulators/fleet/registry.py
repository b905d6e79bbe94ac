"""Register the simulated fleet in AWS IoT Core, so a load test can run against the real service.

Each publishing identity of the fleet (a site gateway, or a device publishing on its own) becomes a thing of
the thing type `deploy/aws/omnitrack.yaml` creates, with the attributes its policies bind topics to (`site_id`,
`kind`), and gets an active certificate with the gateway or device policy attached. Certificate and key go to
`cert_dir` as `{thing}.crt` / `{thing}.key`, where the simulator's awsiot transport looks for an identity's
pair (`omnitrack.stack.certs.issue` returns an existing pair as it is).

Idempotent: a thing that has a certificate whose key is in `cert_dir` is left alone. A thing with a
certificate but no key here (registered from another machine) is reported, never given a second one silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from simulators.fleet.fleet import Fleet

__all__ = ["Identity", "RegisterReport", "identities", "register"]


@dataclass(frozen=True)
class Identity:
    """One MQTT identity of the fleet: its thing name is its client id and the last level of its topic."""

    name: str
    site_id: str
    kind: Literal["device", "gateway"]


class RegisterReport(BaseModel):
    created: list[str] = []
    present: list[str] = []
    key_elsewhere: list[str] = []
    """Things that already have a certificate whose private key is not in `cert_dir`."""


def identities(fleet: Fleet) -> list[Identity]:
    """Every publishing identity of the fleet, gateways and lone devices, in fleet order."""
    out = []
    for g in fleet.groups:
        if g.gateway_id is not None:
            out.append(Identity(g.gateway_id, g.site_id, "gateway"))
        else:
            out.append(Identity(fleet.device_ids[g.start], g.site_id, "device"))
    return out


def _write_private(path: Path, text: str) -> None:
    """Written whole or not at all, readable by the owner only (a private key)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _ensure_thing(iot: Any, ident: Identity, thing_type: str) -> None:
    attributes = {"attributes": {"site_id": ident.site_id, "kind": ident.kind}}
    try:
        iot.create_thing(thingName=ident.name, thingTypeName=thing_type, attributePayload=attributes)
    except iot.exceptions.ResourceAlreadyExistsException:  # exists with other attributes or type: bring it in line
        iot.update_thing(thingName=ident.name, thingTypeName=thing_type,
                         attributePayload={**attributes, "merge": True})


def register(idents: Iterable[Identity], iot: Any, cert_dir: Path, *, thing_type: str, device_policy: str,
             gateway_policy: str) -> RegisterReport:
    """Things, certificates and policy attachments for `idents` (see the module doc); `iot` is a boto3 IoT client."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    report = RegisterReport()
    for ident in idents:
        _ensure_thing(iot, ident, thing_type)
        crt, key = cert_dir / f"{ident.name}.crt", cert_dir / f"{ident.name}.key"
        principals: Sequence[str] = iot.list_thing_principals(thingName=ident.name)["principals"]
        if principals:
            (report.present if crt.exists() and key.exists() else report.key_elsewhere).append(ident.name)
            continue
        made = iot.create_keys_and_certificate(setAsActive=True)
        _write_private(key, made["keyPair"]["PrivateKey"])
        crt.write_text(made["certificatePem"])
        policy = gateway_policy if ident.kind == "gateway" else device_policy
        iot.attach_policy(policyName=policy, target=made["certificateArn"])
        iot.attach_thing_principal(thingName=ident.name, principal=made["certificateArn"])
        report.created.append(ident.name)
    return report


def register_fleet(network_path: Path, cert_dir: Path, *, scale: int = 1, seed: int = 20261126,
                   gateway_share: float = 0.8, name_prefix: str = "omnitrack", limit: int | None = None,
                   iot: Any = None) -> RegisterReport:
    """`register` for the fleet `omnitrack simulate fleet` builds with the same scale, seed and gateway share;
    names as the template makes them with `NamePrefix`; boto3's own chain (`AWS_REGION`, `AWS_ENDPOINT_URL`)."""
    from simulators.fleet.fleet import build_fleet, load_network

    fleet = build_fleet(load_network(network_path), scale=scale, seed=seed, gateway_share=gateway_share)
    if iot is None:
        import boto3

        iot = boto3.client("iot")
    return register(identities(fleet)[:limit], iot, cert_dir, thing_type=f"{name_prefix}-device",
                    device_policy=f"{name_prefix}-device", gateway_policy=f"{name_prefix}-gateway")
