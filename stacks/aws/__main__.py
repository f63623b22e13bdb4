"""The AWS realization of the service spec: read the spec and settings, build, export.

Resources live in ``service_stack`` (importable, unit-tested under Pulumi's mock runtime).
"""

import pulumi
from service_stack import ServiceStack, StackSettings, load_stack_spec

settings = StackSettings.from_config(pulumi.Config("toolkit"))
service = ServiceStack(load_stack_spec(settings.spec_path), settings)
for name, value in service.outputs.items():
    pulumi.export(name, value)
