"""The application load balancer: HTTPS with the spec's own certificate, HTTP redirected to it.

The certificate is *imported* into ACM from the spec's secret references (``tls.certificate``
and ``tls.key``), never issued by ACM: an ACM-issued certificate's private key cannot be
exported, so it could not follow the service to bare metal (see ``toolkit.lockin``).
"""

from __future__ import annotations

import hashlib
import re

import pulumi
import pulumi_aws as aws

HTTPS_PORT = 443
HTTP_PORT = 80
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# AWS allows 32 characters in load balancer and target group names; Pulumi's auto-naming adds
# a dash and 7 random characters to the logical name.
NAME_LIMIT = 32
AUTONAME_SUFFIX = 8
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def autoname_base(name: str) -> str:
    """A logical name whose auto-generated AWS name fits: long ones are cut and get a hash."""
    limit = NAME_LIMIT - AUTONAME_SUFFIX
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: limit - 7].rstrip('-')}-{digest}"


def split_chain(pem: str) -> tuple[str, str | None]:
    """A PEM bundle -> (the leaf certificate, the rest of the chain or None)."""
    blocks = PEM_CERTIFICATE.findall(pem)
    if not blocks:
        return pem, None
    return blocks[0] + "\n", ("\n".join(blocks[1:]) + "\n") if len(blocks) > 1 else None


class LoadBalancer(pulumi.ComponentResource):
    alb: aws.lb.LoadBalancer
    target_groups: list[aws.lb.TargetGroup]
    certificate: aws.acm.Certificate | None

    def __init__(
        self,
        name: str,
        *,
        vpc_id: pulumi.Input[str],
        subnet_ids: list[pulumi.Output[str]],
        security_group_id: pulumi.Output[str],
        ports: range,
        health_path: str,
        tls: tuple[str, str] | None,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``tls`` is (certificate PEM, private key PEM), resolved from the spec's references."""
        super().__init__("toolkit:aws:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.alb = aws.lb.LoadBalancer(
            autoname_base(f"{name}-alb"),
            load_balancer_type="application",
            internal=False,
            security_groups=[security_group_id],
            subnets=subnet_ids,
            drop_invalid_header_fields=True,
            tags=tags,
            opts=child,
        )
        # One target group per app port: an Auto Scaling group registers each instance at its
        # groups' ports, and every app process is a target.
        self.target_groups = [
            aws.lb.TargetGroup(
                autoname_base(f"{name}-app-{port}"),
                port=port,
                protocol="HTTP",
                target_type="instance",
                vpc_id=vpc_id,
                health_check={
                    "path": health_path, "protocol": "HTTP", "matcher": "200", "port": "traffic-port"
                },
                tags=tags,
                opts=child,
            )
            for port in ports
        ]
        forward = [
            aws.lb.ListenerDefaultActionArgs(
                type="forward",
                forward=aws.lb.ListenerDefaultActionForwardArgs(
                    target_groups=[
                        aws.lb.ListenerDefaultActionForwardTargetGroupArgs(arn=group.arn, weight=1)
                        for group in self.target_groups
                    ]
                ),
            )
        ]
        self.certificate = None
        if tls is None:
            aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=self.alb.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_actions=forward,
                tags=tags,
                opts=child,
            )
        else:
            body, chain = split_chain(tls[0])
            self.certificate = aws.acm.Certificate(
                f"{name}-certificate",
                certificate_body=body,
                certificate_chain=chain,
                private_key=pulumi.Output.secret(tls[1]),
                tags=tags,
                opts=child,
            )
            aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=self.alb.arn,
                port=HTTPS_PORT,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=self.certificate.arn,
                default_actions=forward,
                tags=tags,
                opts=child,
            )
            aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=self.alb.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_actions=[
                    aws.lb.ListenerDefaultActionArgs(
                        type="redirect",
                        redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                            port=str(HTTPS_PORT), protocol="HTTPS", status_code="HTTP_301"
                        ),
                    )
                ],
                tags=tags,
                opts=child,
            )
        self.register_outputs({"dns_name": self.alb.dns_name})
