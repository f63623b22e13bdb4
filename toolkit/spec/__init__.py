"""The portable service spec: YAML in, a validated ``Spec`` out, or located issues."""

from toolkit.spec.issues import IssueKind, SpecError, SpecIssue
from toolkit.spec.loader import DEFAULT_SPEC, LoadedSpec, load_spec, parse_spec
from toolkit.spec.model import Spec
from toolkit.spec.secrets import Secret, SecretRef

__all__ = [
    "DEFAULT_SPEC",
    "IssueKind",
    "LoadedSpec",
    "Secret",
    "SecretRef",
    "Spec",
    "SpecError",
    "SpecIssue",
    "load_spec",
    "parse_spec",
]
