"""Security check of template.yaml, run by `make test`.

Fails unless:
- the relay function's own IAM statements grant only s3:PutObject on object prefixes of the
  stack's bucket (never the whole bucket) and sqs:SendMessage on the stack's queue, with no
  policy templates or managed policies beyond the basic execution role SAM adds for logs;
- the bucket blocks all public access, enforces bucket ownership and only denies in its policy;
- the function URL is public only through the two permissions SAM generates for AuthType NONE;
- no reserved-concurrency cap is set (a throttled delivery is a lost event).

`--self-test` mutates the template in ways the check must catch and fails if one passes.
"""

import copy
import logging
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# The translator warns about its own usage metrics, which go nowhere here.
logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)

from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

FUNCTION = "WebhookRelayFunction"
BASIC_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


class ManagedPolicies:
    def load(self):
        return {"AWSLambdaBasicExecutionRole": BASIC_ROLE}


def as_list(value):
    return value if isinstance(value, list) else [value]


def check_statement(statement, problems):
    if statement.get("Effect") != "Allow":
        problems.append(f"unexpected statement effect: {statement}")
        return
    if "NotAction" in statement or "NotResource" in statement:
        problems.append(f"NotAction/NotResource grants too much: {statement}")
        return
    actions = as_list(statement.get("Action"))
    resources = as_list(statement.get("Resource"))
    for action in actions:
        if action == "s3:PutObject":
            for resource in resources:
                sub = resource.get("Fn::Sub") if isinstance(resource, dict) else None
                ok = (
                    isinstance(sub, str)
                    and sub.startswith("${Bucket.Arn}/")
                    and sub.endswith("*")
                    and len(sub) > len("${Bucket.Arn}/*")
                    and "*" not in sub[:-1]
                )
                if not ok:
                    problems.append(f"s3:PutObject on {resource}: only prefixes of the stack's bucket")
        elif action == "sqs:SendMessage":
            for resource in resources:
                if resource != {"Fn::GetAtt": ["EventQueue", "Arn"]} and resource != {"Fn::GetAtt": "EventQueue.Arn"}:
                    problems.append(f"sqs:SendMessage on {resource}: only the stack's queue")
        else:
            problems.append(f"action {action} is not allowed for the relay")


def check(template):
    problems = []
    resources = template.get("Resources", {})
    function = resources.get(FUNCTION, {}).get("Properties", {})
    if "ReservedConcurrentExecutions" in function:
        problems.append("reserved concurrency caps deliveries: a throttled webhook is lost")
    if function.get("FunctionUrlConfig", {}).get("AuthType") != "NONE":
        problems.append("the function URL must be AuthType NONE (the platform cannot sign IAM requests)")
    for policy in as_list(function.get("Policies", [])):
        if not isinstance(policy, dict) or set(policy) != {"Statement"}:
            problems.append(f"policy {policy!r}: only inline statements are allowed (no templates or ARNs)")
            continue
        for statement in as_list(policy["Statement"]):
            check_statement(statement, problems)

    bucket = resources.get("Bucket", {}).get("Properties", {})
    block = bucket.get("PublicAccessBlockConfiguration", {})
    for flag in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
        if block.get(flag) is not True:
            problems.append(f"bucket {flag} must be true")
    if "AccessControl" in bucket:
        problems.append("bucket must not set a canned ACL")
    rules = bucket.get("OwnershipControls", {}).get("Rules", [])
    if [r.get("ObjectOwnership") for r in rules] != ["BucketOwnerEnforced"]:
        problems.append("bucket must enforce bucket ownership (ACLs disabled)")
    for name, resource in resources.items():
        if resource.get("Type") == "AWS::S3::BucketPolicy":
            for statement in as_list(resource["Properties"]["PolicyDocument"]["Statement"]):
                if statement.get("Effect") != "Deny":
                    problems.append(f"{name}: bucket policy may only deny: {statement}")

    # What SAM generates from it.
    transformed = transform(copy.deepcopy(with_s3_code(template)), {}, ManagedPolicies())
    out = transformed["Resources"]
    role = out.get(f"{FUNCTION}Role", {}).get("Properties", {})
    if role.get("ManagedPolicyArns") != [BASIC_ROLE]:
        problems.append(f"managed policies {role.get('ManagedPolicyArns')}: only the basic execution role")
    for policy in role.get("Policies", []):
        for statement in as_list(policy["PolicyDocument"]["Statement"]):
            check_statement(statement, problems)
    public = sorted(
        r["Properties"]["Action"]
        for r in out.values()
        if r.get("Type") == "AWS::Lambda::Permission" and r["Properties"].get("Principal") == "*"
        and r["Properties"].get("FunctionName") == {"Ref": FUNCTION}
    )
    if public != ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]:
        problems.append(f"public permissions on the function: {public}")
    return problems


def with_s3_code(template):
    # The translator wants S3 code locations; `sam build` provides them at deploy time.
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/code.zip"
    return template


def self_test(template):
    def mutate(change):
        t = copy.deepcopy(template)
        change(t)
        return t

    statements = lambda t: t["Resources"][FUNCTION]["Properties"]["Policies"][0]["Statement"]  # noqa: E731
    mutations = {
        "extra action": lambda t: statements(t)[0].update(Action=["s3:PutObject", "s3:GetObject"]),
        "whole bucket": lambda t: statements(t)[0].update(Resource={"Fn::Sub": "${Bucket.Arn}/*"}),
        "any bucket": lambda t: statements(t)[0].update(Resource="*"),
        "any queue": lambda t: statements(t)[1].update(Resource="*"),
        "policy template": lambda t: t["Resources"][FUNCTION]["Properties"]["Policies"].append(
            {"S3CrudPolicy": {"BucketName": {"Ref": "Bucket"}}}
        ),
        "managed policy": lambda t: t["Resources"][FUNCTION]["Properties"]["Policies"].append(
            "arn:aws:iam::aws:policy/AmazonS3FullAccess"
        ),
        "public bucket": lambda t: t["Resources"]["Bucket"]["Properties"]["PublicAccessBlockConfiguration"].update(
            BlockPublicPolicy=False
        ),
        "allowing bucket policy": lambda t: t["Resources"]["BucketPolicy"]["Properties"]["PolicyDocument"][
            "Statement"
        ].append({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}),
        "reserved concurrency": lambda t: t["Resources"][FUNCTION]["Properties"].update(ReservedConcurrentExecutions=5),
    }
    missed = [name for name, change in mutations.items() if not check(mutate(change))]
    return missed, len(mutations)


def main():
    path = "template.yaml"
    with open(path) as f:
        template = yaml_parse(f.read())
    problems = check(template)
    for problem in problems:
        print(f"{path}: {problem}")
    if problems:
        sys.exit(1)
    if "--self-test" in sys.argv:
        missed, total = self_test(template)
        if missed:
            print(f"check_template self-test: mutations not caught: {missed}")
            sys.exit(1)
        print(f"check_template: template.yaml passes; all {total} insecure mutations are caught")
    else:
        print("check_template: template.yaml passes")


if __name__ == "__main__":
    main()
