"""EC2 Auto Scaling groups: how many app servers, and behind which target groups."""

from __future__ import annotations

from toolkit.discovery.base import Reader
from toolkit.discovery.inventory import Resource


class AutoScalingReader(Reader):
    SUBJECT = "Auto Scaling groups"

    def populate(self, region: str) -> None:
        for page in self.pages("autoscaling", "describe_auto_scaling_groups", region):
            for group in page.get("AutoScalingGroups", []):
                self.inventory.add(
                    Resource(
                        "AWS::AutoScaling::AutoScalingGroup",
                        group["AutoScalingGroupName"],
                        region,
                        {
                            "min": group.get("MinSize"),
                            "max": group.get("MaxSize"),
                            "desired": group.get("DesiredCapacity"),
                            "instances": [i["InstanceId"] for i in group.get("Instances", [])],
                            "target_groups": group.get("TargetGroupARNs", []),
                        },
                    )
                )
