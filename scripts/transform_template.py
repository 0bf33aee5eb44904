"""Prints the CloudFormation that CloudFormation's own SAM transform makes of template.yaml, as JSON,
for the scanners that only know CloudFormation types (`make scan`: cfn-guard's rules select
AWS::Lambda::Function, AWS::IAM::Role, AWS::Lambda::Permission…, never AWS::Serverless::Function).

It runs the translator SAM CLI pins (aws-sam-translator, the library `sam validate`, cfn-lint and
CloudFormation's AWS::Serverless transform run), offline: the function's CodeUri becomes an S3
location, as `sam build` + `sam package` would make it; nothing else changes. Conditional
resources (the example consumer) stay in, with their Condition, as CloudFormation receives them.

Usage: transform_template.py [template.yaml] > transformed.json
"""

import copy
import json
import logging
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)

from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402


class ManagedPolicies:
    """The one AWS managed policy SAM attaches (the function's basic execution role), without IAM."""

    def load(self):
        return {"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}


def transformed(template: dict) -> dict:
    template = copy.deepcopy(template)
    for resource in template.get("Resources", {}).values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = "s3://bucket/code.zip"
    return transform(template, {}, ManagedPolicies())


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    with open(path) as f:
        print(json.dumps(transformed(yaml_parse(f.read())), indent=1))


if __name__ == "__main__":
    main()
