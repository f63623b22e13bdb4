"""Load balancers: application/network (elbv2) with their target groups, and classic ones."""

from __future__ import annotations

from toolkit.discovery.base import Reader
from toolkit.discovery.inventory import Resource


class LoadBalancerReader(Reader):
    SUBJECT = "load balancers"

    def populate(self, region: str) -> None:
        with self.tolerate("load balancers", region):
            for page in self.pages("elbv2", "describe_load_balancers", region):
                for lb in page.get("LoadBalancers", []):
                    self.inventory.add(
                        Resource(
                            "AWS::ElasticLoadBalancingV2::LoadBalancer",
                            lb["LoadBalancerName"],
                            region,
                            {
                                "type": lb.get("Type"),
                                "scheme": lb.get("Scheme"),
                                "dns_name": lb.get("DNSName"),
                                "arn": lb.get("LoadBalancerArn"),
                            },
                        )
                    )
        with self.tolerate("target groups", region):
            for page in self.pages("elbv2", "describe_target_groups", region):
                for group in page.get("TargetGroups", []):
                    self.inventory.add(
                        Resource(
                            "AWS::ElasticLoadBalancingV2::TargetGroup",
                            group["TargetGroupName"],
                            region,
                            {
                                "port": group.get("Port"),
                                "protocol": group.get("Protocol"),
                                "health_path": group.get("HealthCheckPath"),
                                "load_balancers": group.get("LoadBalancerArns", []),
                            },
                        )
                    )
        with self.tolerate("classic load balancers", region):
            for page in self.pages("elb", "describe_load_balancers", region):
                for lb in page.get("LoadBalancerDescriptions", []):
                    listeners = [d["Listener"] for d in lb.get("ListenerDescriptions", [])]
                    self.inventory.add(
                        Resource(
                            "AWS::ElasticLoadBalancing::LoadBalancer",
                            lb["LoadBalancerName"],
                            region,
                            {
                                "scheme": lb.get("Scheme"),
                                "dns_name": lb.get("DNSName"),
                                "instance_ports": sorted({ls.get("InstancePort") for ls in listeners}),
                                "instances": [i["InstanceId"] for i in lb.get("Instances", [])],
                                "health_target": lb.get("HealthCheck", {}).get("Target"),
                            },
                        )
                    )
