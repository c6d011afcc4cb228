"""Load a CloudFormation/SAM template with its short-form intrinsic tags.

PyYAML refuses `!Ref`, `!Sub`, `!GetAtt` and friends. This loader turns each
short tag into the long JSON form CloudFormation itself uses
(`!Ref X` -> {"Ref": "X"}, `!GetAtt A.B` -> {"Fn::GetAtt": ["A", "B"]}), so
the rest of our tooling sees plain data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_TAGS = [
    "And", "Base64", "Cidr", "Condition", "Equals", "FindInMap", "GetAtt",
    "GetAZs", "If", "ImportValue", "Join", "Not", "Or", "Ref", "Select",
    "Split", "Sub", "Transform", "Length", "ToJsonString",
]


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that also understands CloudFormation short tags."""


def _construct(tag: str):
    key = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


for _tag in _TAGS:
    CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict) or "Resources" not in data:
        raise ValueError(f"{path}: not a CloudFormation template (no Resources)")
    return data


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict]:
    return {
        name: res
        for name, res in template["Resources"].items()
        if isinstance(res, dict) and res.get("Type") == resource_type
    }
