"""The AWS realization: the Pulumi program in ``stacks/aws`` (Automation API, or offline preview)."""
