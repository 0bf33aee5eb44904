"""A moto server with IAM enforced, holding users whose policies are the template's own.

Usage (from the repository root):
  .venv/bin/python scripts/moto_iam.py [--template template.yaml] [--stack-name relay-iam]
      [--param Name=Value ...] [--secret-value TEXT] [--kms-key] [--no-kms-authorization]

What it does:
1. Reads the template, runs the SAM transform offline (as scripts/check_template.py does) and
   takes the PolicyDocuments of the managed policies FunctionPolicy (the statements of the
   function's role WebhookRelayFunctionRole; the AWSLambdaBasicExecutionRole managed policy beside
   it is CloudWatch Logs only and left out), OperatorPolicy and ConsumerPolicy. Every intrinsic in
   them is resolved against the resources created below (Fn::If by the template's Conditions with
   the parameters' values); anything it cannot resolve stops it (exit 2).
2. Plans every setup request before moto is imported, so that INITIAL_NO_AUTH_ACTION_COUNT is
   exactly their number N: moto lets the first N requests through unauthenticated and authorizes
   every later one against the caller's IAM policy, resource ARNs included.
3. Creates, in moto: with --kms-key first a KMS key, whose ARN becomes the KmsKeyArn parameter;
   bucket <stack>-bucket with the default encryption the template's Bucket resolves to, queues
   <stack>-events and <stack>-events-dlq (".fifo" names when the FifoQueue parameter is "true")
   encrypted as EventQueue and DeadLetterQueue resolve to, secret <stack>-webhook-secret with the
   KmsKeyId WebhookSecret resolves to (so with --kms-key every one is under that key, exactly as
   the template wires it), and IAM users with an inline policy and an access key each:
     admin                    Allow * on *
     relay                    the function role's statements
     relay-without-<Sid>      the same minus one statement, for every Sid
     operator                 the OperatorPolicy document
     operator-without-<Sid>   the same minus one statement, for every Sid
     consumer                 the ConsumerPolicy document
     consumer-without-<Sid>   the same minus one statement, for every Sid
     assumer                  only sts:AssumeRole on the role <stack>-operator, which holds the
                              OperatorPolicy document; one session of that role is made at setup
                              (operatorSession: a role session's key, id and token)
   and a CloudFormation stack <stack> holding the template's outputs for those resources (the
   event queue's RedrivePolicy names the dead-letter queue, as the template's does), so that
   `relayctl --stack <stack>` reads them as on AWS (its FunctionUrl names no relay: pass
   --function-url).
4. Proves enforcement is on (relay: ListBuckets denied, PutObject <ThumbnailPrefix>probe allowed).
5. Prints one JSON line on stdout, then serves on 127.0.0.1 until stdin reaches EOF or
   SIGTERM/SIGINT. Diagnostics go to stderr. Exit 2 on any setup problem.

Adaptations for moto (moto 5.2.5), listed in the JSON output:
- "widened": moto authorizes only S3 and SQS (and IAM/STS) requests against a resource ARN; every
  other service (Secrets Manager, CloudFormation, ...) is checked against resource "*", so a
  statement scoped to an ARN is always denied there. Statements with such actions and a resource
  other than "*" get Resource "*" here; scripts/check_template.py checks their scoping statically.
  A statement mixing such actions with S3/SQS actions is refused (it cannot be widened without
  widening the S3/SQS part too): split it in the template.
- "aliased": moto names the IAM action after the SigV4 signing name of the request, not the IAM
  service prefix: CloudWatch is signed as "monitoring", so moto checks "monitoring:GetMetricData"
  where AWS checks "cloudwatch:GetMetricData". Each such action is granted under both names.
  Likewise moto checks SQS's batch calls as sqs:SendMessageBatch, sqs:DeleteMessageBatch and
  sqs:ChangeMessageVisibilityBatch, which AWS authorizes with the single call's action: a
  statement granting the single one also grants the batch one here.
- A policy document without "Version" (SAM generates the role's that way) gets "2012-10-17":
  moto refuses any other (AWS defaults to 2008-10-17, which only differs for policy variables).
- "kmsAuthorization": moto 5.2.5 authorizes a direct KMS API call (kms:GenerateDataKey on the
  KMS endpoint) but never the KMS use that S3, SQS and Secrets Manager make on the caller's behalf:
  a user without any kms: permission can PutObject into an SSE-KMS bucket, SendMessage to and
  ReceiveMessage from an SSE-KMS queue and GetSecretValue/PutSecretValue of a secret under a
  customer-managed key (scripts/test_moto_iam.py, KmsKey, proves it with --no-kms-authorization).
  Unless --no-kms-authorization, this rig adds what AWS documents to moto's IAM check: after a
  request is allowed, it authorizes the KMS actions that request needs on the key that encrypts
  its resource, with moto's own policy evaluator, the caller's policies and the key's ARN
  (KMS_NEEDS below, each with its source). A key that is not a customer-managed key ARN (SSE-S3,
  SSE-SQS, aws/secretsmanager) needs no IAM permission, as on AWS (its key policy grants the
  account's principals through the service). What it cannot show: the key policy (moto enforces
  none), kms:ViaService and encryption-context conditions, and KMS's own availability.
- "standIns": calls moto 5.2.5 does not implement, added behind moto's own authentication and IAM
  check. SQS's message-move task (StartMessageMoveTask, ListMessageMoveTasks; relayctl
  dead-letters move-back): authorized on the source queue (SourceArn; moto would check "*"),
  StartMessageMoveTask also needing what the SQS Developer Guide lists (ReceiveMessage,
  DeleteMessage, GetQueueAttributes on the source, SendMessage on the destination); the stand-in
  moves the visible messages at once (install_message_move_task says what it cannot show).
  Lambda's GetAccountSettings (relayctl status): scripts/lambda_stand_in.py, authorized as
  lambda:GetAccountSettings on "*"; moto 5.2.5 checks the signature of a Lambda GET over its
  headers as a form body, so the rig checks it over the empty body (install_lambda_signature_fix).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
FUNCTION = "WebhookRelayFunction"
FUNCTION_ROLE = f"{FUNCTION}Role"
OPERATOR_POLICY = "OperatorPolicy"
CONSUMER_POLICY = "ConsumerPolicy"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
PARTITION = "aws"
DEFAULT_SECRET = '{"current":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}'
DUMMY_KEY = "moto-iam-setup"  # the N unauthenticated setup requests are signed with this
# Services whose requests moto authorizes against a real resource ARN (S3 bucket/object ARNs,
# SQS queue ARNs via SQSResponse._determine_resource, IAM/STS). Every other service is
# authorized against "*", i.e. by action only.
RESOURCE_AUTHORIZED = {"s3", "sqs", "iam", "sts"}
# kms: statements keep their key ARN: the rig's KMS authorization (install_kms_authorization)
# checks them against the key's ARN, never against "*".
RIG_AUTHORIZED = {"kms"}
POLICY_NAME = "template-policy"
FUNCTION_POLICY = "FunctionPolicy"
# What AWS checks on the key besides the call itself, per IAM action of the call (the caller's
# permissions; the service uses the key on the caller's behalf):
# - S3 (User Guide, "Using server-side encryption with AWS KMS keys (SSE-KMS)", Permissions): an
#   upload needs kms:GenerateDataKey, a download kms:Decrypt. HeadObject is authorized as
#   s3:GetObject; the rig counts it as a download (the stricter reading).
# - SQS (Developer Guide, "Amazon SQS key management", Configuring AWS KMS permissions): a
#   producer needs kms:GenerateDataKey and kms:Decrypt, a consumer kms:Decrypt.
# - Secrets Manager (User Guide, "Secret encryption and decryption", Permissions for the KMS key):
#   GetSecretValue needs kms:Decrypt; writing a value (PutSecretValue) kms:GenerateDataKey and
#   kms:Decrypt.
KMS_NEEDS = {
    "s3:PutObject": ["kms:GenerateDataKey"],
    "s3:GetObject": ["kms:Decrypt"],
    "sqs:SendMessage": ["kms:GenerateDataKey", "kms:Decrypt"],
    "sqs:SendMessageBatch": ["kms:GenerateDataKey", "kms:Decrypt"],
    "sqs:ReceiveMessage": ["kms:Decrypt"],
    "secretsmanager:GetSecretValue": ["kms:Decrypt"],
    "secretsmanager:PutSecretValue": ["kms:GenerateDataKey", "kms:Decrypt"],
}
SQS_BATCH = {f"sqs:{call}": f"sqs:{call}Batch" for call in ("SendMessage", "DeleteMessage", "ChangeMessageVisibility")}
KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$")

os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)


class SetupError(Exception):
    """A problem that stops the rig (exit 2)."""


def log(message: str) -> None:
    print(f"moto_iam: {message}", file=sys.stderr, flush=True)


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------------------------
# The template: SAM transform and the two policies.


class ManagedPolicies:
    def load(self) -> dict:
        return {"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}


def with_s3_code(template: dict) -> dict:
    # The translator wants S3 code locations; `sam build` provides them at deploy time.
    template = copy.deepcopy(template)
    for resource in template.get("Resources", {}).values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = "s3://bucket/code.zip"
    return template


def read_template(path: Path) -> tuple[dict, list[dict], dict, dict]:
    """(template, the function role's statements, the operator and consumer policy documents),
    unresolved."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    try:
        template = yaml_parse(path.read_text())
    except OSError as e:
        raise SetupError(f"cannot read the template: {e}")
    try:
        transformed = transform(with_s3_code(template), {}, ManagedPolicies())
    except Exception as e:  # samtranslator raises InvalidDocumentException & co.
        raise SetupError(f"the SAM transform of {path} failed: {e}")
    resources = transformed.get("Resources", {})
    role = resources.get(FUNCTION_ROLE)
    if not role or role.get("Type") != "AWS::IAM::Role":
        raise SetupError(f"the SAM transform generated no role {FUNCTION_ROLE} (does {FUNCTION} set Role?)")
    properties = role.get("Properties", {})
    if properties.get("Policies") or {"Ref": FUNCTION_POLICY} not in properties.get("ManagedPolicyArns", []):
        raise SetupError(f"{FUNCTION_ROLE} must hold the managed policy {FUNCTION_POLICY} and no inline policy")
    documents = []
    for name in (FUNCTION_POLICY, OPERATOR_POLICY, CONSUMER_POLICY):
        policy = resources.get(name)
        if not policy or policy.get("Type") != "AWS::IAM::ManagedPolicy":
            raise SetupError(f"the template has no AWS::IAM::ManagedPolicy {name}")
        documents.append(copy.deepcopy(policy["Properties"]["PolicyDocument"]))
    statements = as_list(documents[0].get("Statement", []))
    if not statements:
        raise SetupError(f"{FUNCTION_POLICY} has no statements")
    return template, statements, documents[1], documents[2]


def check_sids(label: str, statements: list[dict]) -> list[str]:
    sids = []
    for statement in statements:
        sid = statement.get("Sid") if isinstance(statement, dict) else None
        if not isinstance(sid, str) or not re.fullmatch(r"[A-Za-z0-9]+", sid):
            raise SetupError(
                f"{label}: every statement needs an alphanumeric Sid (its {label}-without-<Sid> user "
                f"proves it is needed): {statement}"
            )
        if sid in sids:
            raise SetupError(f"{label}: duplicate Sid {sid}")
        sids.append(sid)
    return sids


# --------------------------------------------------------------------------------------------
# Intrinsics.


@dataclass
class Context:
    """What references resolve to. Resource attributes are filled in as setup runs."""

    parameters: dict[str, str]
    stack_name: str
    resources: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> {"Ref": .., "Arn": ..}
    conditions: dict[str, Any] = field(default_factory=dict)  # the template's Conditions

    def condition(self, name: str, seen: tuple = ()) -> bool:
        if name not in self.conditions:
            raise SetupError(f"cannot resolve the condition {name}: the template has no such condition")
        if name in seen:
            raise SetupError(f"the condition {name} refers to itself")
        return bool(self.evaluate(self.conditions[name], seen + (name,)))

    def evaluate(self, value: Any, seen: tuple) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg, seen)
            if key == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
                return self.evaluate(arg[0], seen) == self.evaluate(arg[1], seen)
            if key == "Fn::Not" and isinstance(arg, list) and len(arg) == 1:
                return not self.evaluate(arg[0], seen)
            if key == "Fn::And" and isinstance(arg, list):
                return all(self.evaluate(a, seen) for a in arg)
            if key == "Fn::Or" and isinstance(arg, list):
                return any(self.evaluate(a, seen) for a in arg)
            if key == "Ref" and isinstance(arg, str):
                return self.ref(arg)
        if isinstance(value, (str, bool, int)):
            return value
        raise SetupError(f"cannot evaluate the condition expression {value}")

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources and "Ref" in self.resources[name]:
            return self.resources[name]["Ref"]
        raise SetupError(f"cannot resolve Ref {name}: not a parameter, a supported pseudo parameter or a resource this rig creates ({', '.join(sorted(self.resources))})")

    def get_att(self, name: str, attribute: str) -> str:
        value = self.resources.get(name, {}).get(attribute)
        if value is None:
            known = ", ".join(f"{r}.{a}" for r, attrs in sorted(self.resources.items()) for a in attrs if a != "Ref")
            raise SetupError(f"cannot resolve Fn::GetAtt {name}.{attribute} (this rig knows {known})")
        return value


SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


NO_VALUE = object()


def resolve(value: Any, ctx: Context) -> Any:
    resolved = resolve_or_no_value(value, ctx)
    return None if resolved is NO_VALUE else resolved


def resolve_or_no_value(value: Any, ctx: Context) -> Any:
    if isinstance(value, list):
        return [v for v in (resolve_or_no_value(v, ctx) for v in value) if v is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            if not isinstance(arg, str):
                raise SetupError(f"cannot resolve {value}")
            if arg == "AWS::NoValue":
                return NO_VALUE
            return ctx.ref(arg)
        if key == "Fn::If":
            if not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
                raise SetupError(f"cannot resolve {value}")
            return resolve_or_no_value(arg[1] if ctx.condition(arg[0]) else arg[2], ctx)
        if key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            if not (isinstance(parts, list) and len(parts) == 2 and all(isinstance(p, str) for p in parts)):
                raise SetupError(f"cannot resolve {value}")
            return ctx.get_att(parts[0], parts[1])
        if key == "Fn::Sub":
            return resolve_sub(arg, ctx)
        if key == "Fn::Join":
            if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
                raise SetupError(f"cannot resolve {value}")
            items = resolve(arg[1], ctx)
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise SetupError(f"cannot resolve {value}")
            return arg[0].join(items)
        if key.startswith("Fn::") or key == "Condition":
            raise SetupError(f"cannot resolve the intrinsic {key}: {value}")
    out = {k: resolve_or_no_value(v, ctx) for k, v in value.items()}
    return {k: v for k, v in out.items() if v is not NO_VALUE}


def resolve_sub(arg: Any, ctx: Context) -> str:
    if isinstance(arg, str):
        text, variables = arg, {}
    elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict):
        text, variables = arg[0], {k: resolve(v, ctx) for k, v in arg[1].items()}
    else:
        raise SetupError(f"cannot resolve Fn::Sub {arg!r}")

    def replace(match: re.Match) -> str:
        name = match.group(1).strip()
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            return str(variables[name])
        if "." in name and not name.startswith("AWS::"):
            resource, attribute = name.split(".", 1)
            return ctx.get_att(resource, attribute)
        return ctx.ref(name)

    return SUB_VARIABLE.sub(replace, text)


# --------------------------------------------------------------------------------------------
# Adaptations for moto.


def service_of(action: str) -> str:
    if action == "*" or ":" not in action:
        return "*"
    service = action.split(":", 1)[0].lower()
    return "*" if any(c in service for c in "*?") else service


def signing_names() -> Callable[[str], str | None]:
    import botocore.session

    session = botocore.session.get_session()
    available = set(session.get_available_services())
    cache: dict[str, str | None] = {}

    def lookup(service: str) -> str | None:
        if service not in cache:
            cache[service] = None
            if service in available:
                model = session.get_service_model(service)
                cache[service] = model.signing_name or model.endpoint_prefix
        return cache[service]

    return lookup


def adapt(label: str, statement: dict, widened: list[str], aliased: dict[str, list[str]], signing) -> dict:
    """The statement as moto must see it to grant what AWS grants (see the module docstring)."""
    statement = copy.deepcopy(statement)
    sid = statement["Sid"]
    if "NotAction" in statement:
        raise SetupError(f"{label} {sid}: NotAction is not supported by this rig")
    actions = [a for a in as_list(statement.get("Action", [])) if isinstance(a, str)]
    if len(actions) != len(as_list(statement.get("Action", []))) or not actions:
        raise SetupError(f"{label} {sid}: Action must be a string or a list of strings")
    services = {service_of(a) for a in actions}

    extra = []
    for action in actions:
        # AWS authorizes SQS's batch calls with the single call's action (SendMessageBatch needs
        # sqs:SendMessage); moto checks sqs:<Call>Batch.
        if action in SQS_BATCH and SQS_BATCH[action] not in actions and SQS_BATCH[action] not in extra:
            extra.append(SQS_BATCH[action])
        service = service_of(action)
        name = signing(service) if service != "*" else None
        if name and name.lower() != service:
            alias = f"{name}:{action.split(':', 1)[1]}"
            if alias not in actions and alias not in extra:
                extra.append(alias)
    if extra:
        statement["Action"] = actions + extra
        aliased[sid] = extra

    action_only = services - RESOURCE_AUTHORIZED - RIG_AUTHORIZED
    resources = statement.get("Resource")
    if action_only and (resources is None or as_list(resources) != ["*"]):
        if "NotResource" in statement:
            raise SetupError(f"{label} {sid}: NotResource with {sorted(action_only)} actions is not supported")
        if "*" in services or services & (RESOURCE_AUTHORIZED | RIG_AUTHORIZED):
            raise SetupError(
                f"{label} {sid}: mixes actions moto authorizes by action only ({sorted(action_only)}) with "
                f"resource-scoped ones ({sorted(services & (RESOURCE_AUTHORIZED | RIG_AUTHORIZED))}); widening it would widen "
                f"those too. Split the statement in the template."
            )
        statement["Resource"] = "*"
        widened.append(sid)
    return statement


def document(statements: list[dict], version: str | None) -> dict:
    return {"Version": version or "2012-10-17", "Statement": statements}


# --------------------------------------------------------------------------------------------
# The plan: every setup request, listed before moto is imported.


@dataclass
class Op:
    client: str
    method: str
    kwargs: Callable[[], dict]  # called right before the request (values from earlier results)
    done: Callable[[dict], None] = lambda result: None


@dataclass
class User:
    name: str
    statements: list[dict] | None  # None: Allow * on *
    version: str | None = None
    key: dict = field(default_factory=dict)
    policy: dict | None = None


def parse_params(template: dict, given: list[str]) -> dict[str, str]:
    declared = template.get("Parameters", {}) or {}
    values = {}
    for name, spec in declared.items():
        if isinstance(spec, dict) and "Default" in spec:
            default = spec["Default"]
            values[name] = ("true" if default else "false") if isinstance(default, bool) else str(default)
    for item in given:
        name, sep, value = item.partition("=")
        if not sep:
            raise SetupError(f"--param {item!r}: expected Name=Value")
        if name not in declared:
            raise SetupError(f"--param {name}: the template has no such parameter")
        values[name] = value
    return values


def plan(args: argparse.Namespace) -> tuple[list[Op], dict]:
    template, function_statements, operator_document, consumer_document = read_template(Path(args.template))
    function_sids = check_sids("relay", function_statements)
    operator_sids = check_sids("operator", as_list(operator_document.get("Statement", [])))
    consumer_sids = check_sids("consumer", as_list(consumer_document.get("Statement", [])))
    parameters = parse_params(template, args.param)
    stack = args.stack_name
    ctx = Context(parameters=parameters, stack_name=stack, conditions=template.get("Conditions", {}) or {})
    if args.kms_key:
        if "KmsKeyArn" not in parameters:
            raise SetupError("--kms-key: the template has no KmsKeyArn parameter")
        if parameters["KmsKeyArn"]:
            raise SetupError("--kms-key creates the key: do not also give --param KmsKeyArn")
        # Until the key exists (its setup request), a key ARN of the same shape.
        parameters["KmsKeyArn"] = f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT_ID}:key/00000000-0000-0000-0000-000000000000"
    raw = template.get("Resources", {}) or {}

    def encryption_of(logical: str, *keys: str) -> dict:
        """The properties `keys` of the template's resource `logical`, resolved now."""
        properties = (raw.get(logical) or {}).get("Properties", {}) or {}
        return {k: resolve(properties[k], ctx) for k in keys if k in properties
                and resolve_or_no_value(properties[k], ctx) is not NO_VALUE}

    fifo = parameters.get("FifoQueue") == "true"
    suffix = ".fifo" if fifo else ""
    names = {
        "bucket": f"{stack}-bucket",
        "queue": f"{stack}-events{suffix}",
        "dlq": f"{stack}-events-dlq{suffix}",
        "secret": f"{stack}-webhook-secret",
    }
    if "ThumbnailPrefix" not in parameters:
        raise SetupError("the template has no ThumbnailPrefix parameter (needed for the enforcement probe)")

    # Dry run: every statement resolves against placeholders before anything starts, so an
    # unresolvable reference stops the rig here, and the adaptations are known up front.
    placeholders = {
        "Bucket": {"Ref": names["bucket"], "Arn": f"arn:{PARTITION}:s3:::{names['bucket']}"},
        "EventQueue": {"Ref": "queue-url", "Arn": "queue-arn", "QueueName": names["queue"], "QueueUrl": "queue-url"},
        "DeadLetterQueue": {"Ref": "dlq-url", "Arn": "dlq-arn", "QueueName": names["dlq"], "QueueUrl": "dlq-url"},
        "WebhookSecret": {"Ref": "secret-arn", "Id": "secret-arn"},
    }
    ctx.resources = copy.deepcopy(placeholders)
    signing = signing_names()
    widened: list[str] = []
    aliased: dict[str, list[str]] = {}

    def prepare(label: str, statements: list[dict]) -> list[dict]:
        out = []
        for statement in statements:
            try:
                resolve(statement, ctx)
            except SetupError as e:
                raise SetupError(f"{label} statement {statement.get('Sid')}: {e}")
            out.append(adapt(label, statement, widened, aliased, signing))
        return out

    relay = prepare("relay", function_statements)
    operator = prepare("operator", as_list(operator_document["Statement"]))
    operator_version = operator_document.get("Version")
    consumer = prepare("consumer", as_list(consumer_document["Statement"]))
    consumer_version = consumer_document.get("Version")

    assume = [{"Sid": "AssumeOperatorRole", "Effect": "Allow", "Action": "sts:AssumeRole",
               "Resource": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{stack}-operator"}]
    users = [User("admin", None), User("relay", relay), User("assumer", assume)]
    users += [User(f"relay-without-{sid}", [s for s in relay if s["Sid"] != sid]) for sid in function_sids]
    for label, statements, sids, version in (("operator", operator, operator_sids, operator_version),
                                             ("consumer", consumer, consumer_sids, consumer_version)):
        users.append(User(label, statements, version))
        users += [User(f"{label}-without-{sid}", [s for s in statements if s["Sid"] != sid], version) for sid in sids]

    state: dict = {"names": names, "ctx": ctx, "users": users, "parameters": parameters,
                   "widened": widened, "aliased": aliased}
    queue_attributes = {"FifoQueue": "true"} if fifo else {}

    def queue_kwargs(key: str, logical: str) -> dict:
        attributes = dict(queue_attributes)
        for name, value in encryption_of(logical, "KmsMasterKeyId", "SqsManagedSseEnabled").items():
            attributes[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        # The event queue's RedrivePolicy (the dead-letter queue exists by then): what makes the
        # dead-letter queue one, for SQS's message-move task.
        for name, value in encryption_of(logical, "RedrivePolicy").items():
            attributes[name] = json.dumps(value)
        return {"QueueName": names[key], "Attributes": attributes}

    def bucket_encryption() -> dict:
        # CloudFormation's BucketEncryption in the shape of S3's PutBucketEncryption.
        cfn = encryption_of("Bucket", "BucketEncryption")["BucketEncryption"]
        rules = [{"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                  **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {})}
                 for rule in cfn["ServerSideEncryptionConfiguration"]]
        return {"Bucket": names["bucket"], "ServerSideEncryptionConfiguration": {"Rules": rules}}

    def queue_ops(key: str, logical: str) -> list[Op]:
        def created(result: dict) -> None:
            state[f"{key}Url"] = result["QueueUrl"]

        def arn(result: dict) -> None:
            state[f"{key}Arn"] = result["Attributes"]["QueueArn"]
            ctx.resources[logical] = {
                "Ref": state[f"{key}Url"], "QueueUrl": state[f"{key}Url"],
                "Arn": state[f"{key}Arn"], "QueueName": names[key],
            }

        return [
            Op("sqs", "create_queue", lambda: queue_kwargs(key, logical), created),
            Op("sqs", "get_queue_attributes",
               lambda: {"QueueUrl": state[f"{key}Url"], "AttributeNames": ["QueueArn"]}, arn),
        ]

    def secret_created(result: dict) -> None:
        state["secretArn"] = result["ARN"]
        ctx.resources["WebhookSecret"] = {"Ref": result["ARN"], "Id": result["ARN"]}

    def key_created(result: dict) -> None:
        parameters["KmsKeyArn"] = result["KeyMetadata"]["Arn"]

    ops = [Op("kms", "create_key", lambda: {"Description": f"{stack}: KmsKeyArn"}, key_created)] if args.kms_key else []
    ops.append(Op("s3", "create_bucket", lambda: {"Bucket": names["bucket"]}))
    if "BucketEncryption" in encryption_of("Bucket", "BucketEncryption"):
        ops.append(Op("s3", "put_bucket_encryption", bucket_encryption))
    ops += queue_ops("dlq", "DeadLetterQueue")
    ops += queue_ops("queue", "EventQueue")
    ops.append(Op("secretsmanager", "create_secret",
                  lambda: {"Name": names["secret"], "SecretString": args.secret_value,
                           **encryption_of("WebhookSecret", "KmsKeyId")}, secret_created))

    def stack_template() -> dict:
        # A stand-in of the deployed stack for `relayctl --stack`: the template's outputs relayctl
        # reads, with the values of the resources above (moto's CloudFormation holds no relay).
        settings = {
            "THUMBNAIL_PREFIX": parameters["ThumbnailPrefix"],
            "THUMBNAIL_LATEST": parameters.get("ThumbnailLatest", "true"),
            "THUMBNAIL_EVENTS": parameters.get("ThumbnailEvents", "true"),
            "REPLAY_WINDOW_SECONDS": parameters.get("ReplayWindowSeconds", "300"),
            "SQS_MAX_MESSAGE_BYTES": parameters.get("SqsMaxMessageBytes", "262144"),
            "SECRET_REFRESH_SECONDS": parameters.get("SecretRefreshSeconds", "5"),
        }
        outputs = {
            "FunctionUrl": f"http://127.0.0.1:9/{stack}-no-function-url/",
            "FunctionName": f"{stack}-webhook-relay",
            "QueueUrl": state["queueUrl"],
            "QueueArn": state["queueArn"],
            "DeadLetterQueueUrl": state["dlqUrl"],
            "BucketName": names["bucket"],
            "WebhookSecretArn": state["secretArn"],
            "RelaySettings": json.dumps(settings),
        }
        template = {
            "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {name: {"Value": value} for name, value in outputs.items()},
        }
        return {"StackName": stack, "TemplateBody": json.dumps(template)}

    ops.append(Op("cloudformation", "create_stack", stack_template))

    # An operator role with OperatorPolicy, the user `assumer` that may only assume it, and one
    # session of it: relayctl's profiles with role_arn/source_profile assume it through STS
    # (moto implements AssumeRole); the SSO and `aws login` stand-ins of tests hand out the
    # session's credentials (role credentials carry a session token, which moto accepts only
    # with a role session's key).
    role_name = f"{stack}-operator"
    role_arn = f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{role_name}"
    state["operatorRoleArn"] = role_arn
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:user/assumer"},
         "Action": "sts:AssumeRole"}]}
    ops.append(Op("iam", "create_role", lambda: {"RoleName": role_name, "AssumeRolePolicyDocument": json.dumps(trust)}))
    ops.append(Op("iam", "put_role_policy", lambda: {
        "RoleName": role_name, "PolicyName": POLICY_NAME,
        "PolicyDocument": json.dumps(document(resolve(operator, ctx), operator_version))}))

    def session_created(result: dict) -> None:
        credentials = result["Credentials"]
        state["operatorSession"] = {"accessKeyId": credentials["AccessKeyId"],
                                    "secretAccessKey": credentials["SecretAccessKey"],
                                    "sessionToken": credentials["SessionToken"]}

    ops.append(Op("sts", "assume_role", lambda: {"RoleArn": role_arn, "RoleSessionName": "operator-session",
                                                 "DurationSeconds": 3600}, session_created))

    for user in users:
        ops.append(Op("iam", "create_user", lambda user=user: {"UserName": user.name}))

        def policy_kwargs(user: User = user) -> dict:
            if user.statements is None:
                user.policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            else:
                user.policy = document(resolve(user.statements, ctx), user.version)
            return {"UserName": user.name, "PolicyName": POLICY_NAME, "PolicyDocument": json.dumps(user.policy)}

        if user.statements is None or user.statements:
            ops.append(Op("iam", "put_user_policy", policy_kwargs))
        # (a user left without any statement has no policy: moto refuses an empty one)

        def key_created(result: dict, user: User = user) -> None:
            user.key = {"accessKeyId": result["AccessKey"]["AccessKeyId"],
                        "secretAccessKey": result["AccessKey"]["SecretAccessKey"]}

        ops.append(Op("iam", "create_access_key", lambda user=user: {"UserName": user.name}, key_created))
    return ops, state


# --------------------------------------------------------------------------------------------
# Running it.


class Stop(Exception):
    pass


def on_signal(signum, frame):  # noqa: ARG001
    raise Stop()


def client(service: str, endpoint: str, key_id: str, secret: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        # One HTTP request per call: a retry would be an uncounted request.
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def run_setup(ops: list[Op], endpoint: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    clients: dict[str, Any] = {}
    for index, op in enumerate(ops, 1):
        if op.client not in clients:
            clients[op.client] = client(op.client, endpoint, DUMMY_KEY, DUMMY_KEY)
        try:
            kwargs = op.kwargs()
            result = getattr(clients[op.client], op.method)(**kwargs)
        except (ClientError, BotoCoreError) as e:
            raise SetupError(f"setup request {index}/{len(ops)} {op.client}.{op.method} failed: {e}")
        op.done(result)


def prove_enforcement(state: dict, endpoint: str) -> None:
    from botocore.exceptions import ClientError

    relay = next(u for u in state["users"] if u.name == "relay")
    s3 = client("s3", endpoint, relay.key["accessKeyId"], relay.key["secretAccessKey"])
    # First the denied call: had N been one too many, this request would go through unauthenticated.
    try:
        s3.list_buckets()
    except ClientError as e:
        if e.response["Error"]["Code"] != "AccessDenied":
            raise SetupError(f"probe: relay ListBuckets failed with {e}, expected AccessDenied")
    else:
        raise SetupError("probe: relay ListBuckets succeeded: IAM is not enforced (INITIAL_NO_AUTH_ACTION_COUNT wrong?)")
    key = f"{state['parameters']['ThumbnailPrefix']}probe"
    try:
        s3.put_object(Bucket=state["names"]["bucket"], Key=key, Body=b"probe")
    except ClientError as e:
        raise SetupError(f"probe: relay PutObject {key} was refused ({e}): its policy is not in force")


def header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers).items():
        if key.lower() == name:
            return value
    return None


def encryption_key(request: Any, resource: str) -> str | None:
    """The KMS key that encrypts what `request` reads or writes (None: no key, or not known)."""
    service, _, action = request._action.partition(":")
    if service == "s3":
        from moto.s3.models import s3_backends

        bucket_name, _, key_name = resource.split(":::", 1)[-1].partition("/")
        backend = s3_backends[request.account_id][PARTITION]
        if action == "PutObject":
            algorithm = header(request._headers, "x-amz-server-side-encryption")
            key = header(request._headers, "x-amz-server-side-encryption-aws-kms-key-id")
            if algorithm is None:
                default = (backend.get_bucket(bucket_name).encryption or {}).get("Rule", {})
                default = default.get("ApplyServerSideEncryptionByDefault", {})
                algorithm, key = default.get("SSEAlgorithm"), default.get("KMSMasterKeyID")
            return key if algorithm == "aws:kms" else None
        try:
            stored = backend.get_object(bucket_name, key_name)
        except Exception:  # no such bucket or key: S3 answers that itself
            return None
        return stored.kms_key_id if stored is not None and stored.encryption == "aws:kms" else None
    if service == "sqs":
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[request.account_id][request._region].queues.get(resource.rsplit(":", 1)[-1])
        return getattr(queue, "kms_master_key_id", None)
    if service == "secretsmanager":
        from moto.secretsmanager.models import secretsmanager_backends

        try:
            secret_id = json.loads(request._body or b"{}").get("SecretId")
        except ValueError:
            return None
        secret = secretsmanager_backends[request.account_id][request._region].secrets.get(secret_id)
        return getattr(secret, "kms_key_id", None)
    return None


def install_kms_authorization() -> None:
    """After moto allows a request, authorize the KMS use AWS would check for it (KMS_NEEDS) on the
    key of its resource, with moto's own evaluator: a denial is the same AccessDenied, naming the
    kms: action."""
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.check_action_permitted

    def check_action_permitted(self, resource: str) -> None:
        original(self, resource)
        needs = KMS_NEEDS.get(self._action)
        key = encryption_key(self, resource) if needs else None
        if not key or not KEY_ARN.match(key):
            return  # no key, or an AWS-managed one: no IAM permission involved
        action = self._action
        try:
            for kms_action in needs:
                self._action = kms_action
                original(self, key)
        finally:
            self._action = action

    IAMRequestBase.check_action_permitted = check_action_permitted


# SQS's message-move task (dead-letter queue redrive), which moto 5.2.5 does not implement:
# moto authorizes its calls against "*" (they name no QueueUrl) and then fails. AWS authorizes
# them on the source queue (SourceArn) and requires of the caller, besides (Amazon SQS Developer
# Guide, "Configuring queue permissions for dead-letter queue redrive"): ReceiveMessage,
# DeleteMessage and GetQueueAttributes on the source, SendMessage on the destination.
MOVE_TASK_ACTIONS = ("StartMessageMoveTask", "ListMessageMoveTasks")
MOVE_TASK_NEEDS = {
    "sqs:StartMessageMoveTask": [
        ("SourceArn", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]),
        ("DestinationArn", ["sqs:SendMessage"]),
    ],
}


def request_json(request: Any) -> dict:
    try:
        body = json.loads(request._body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def install_message_move_task() -> None:
    """The task's two calls, authorized as AWS does (MOVE_TASK_NEEDS) and answered by a stand-in:
    StartMessageMoveTask moves every visible message of the source (which must be some queue's
    dead-letter queue) to the destination at once and records the task COMPLETED;
    ListMessageMoveTasks lists the source's tasks, newest first. What it cannot show: SQS's pace
    (MaxNumberOfMessagesPerSecond), a task running across calls, cancelling, and what SQS keeps
    of a moved message beyond its body and attributes."""
    import time
    import uuid

    from moto.core.exceptions import ServiceException
    from moto.iam.access_control import IAMRequestBase
    from moto.sqs.responses import SQSResponse

    determine = SQSResponse._determine_resource

    def determine_resource(self) -> str:
        if self._get_action() in MOVE_TASK_ACTIONS:
            return self._get_param("SourceArn") or "*"
        return determine(self)

    SQSResponse._determine_resource = determine_resource

    original = IAMRequestBase.check_action_permitted

    def check_action_permitted(self, resource: str) -> None:
        original(self, resource)
        needs = MOVE_TASK_NEEDS.get(self._action)
        if not needs:
            return
        body = request_json(self)
        action = self._action
        try:
            for field_name, actions in needs:
                arn = body.get(field_name)
                for needed in actions if arn else []:
                    self._action = needed
                    original(self, arn)
        finally:
            self._action = action

    IAMRequestBase.check_action_permitted = check_action_permitted

    class ResourceNotFound(ServiceException):
        code = "ResourceNotFoundException"

    tasks: dict[str, list[dict]] = {}

    def queue_by_arn(backend, arn: str):
        for queue in backend.queues.values():
            if queue.queue_arn == arn:
                return queue
        raise ResourceNotFound(f"The resource that you specified for the SourceArn or DestinationArn parameter doesn't exist: {arn}")

    def start_message_move_task(self):
        from moto.core.responses import ActionResult

        backend = self.sqs_backend
        source = queue_by_arn(backend, self._get_param("SourceArn"))
        if not any(q.redrive_policy and q.redrive_policy.get("deadLetterTargetArn") == source.queue_arn
                   for q in backend.queues.values()):
            raise ServiceException("InvalidParameterValue", f"Source queue {source.queue_arn} is not a dead-letter queue")
        destination_arn = self._get_param("DestinationArn")
        destination = queue_by_arn(backend, destination_arn)
        moved = 0
        with source._messages_lock:
            visible = [m for m in source._messages if m.visible]
            source._messages = [m for m in source._messages if m not in visible]
        for message in visible:
            backend.send_message(destination.name, message.body, message_attributes=message.message_attributes,
                                 group_id=message.group_id, deduplication_id=message.deduplication_id or message.id)
            moved += 1
        handle = str(uuid.uuid4())
        tasks.setdefault(source.queue_arn, []).insert(0, {
            "TaskHandle": handle, "Status": "COMPLETED", "SourceArn": source.queue_arn,
            "DestinationArn": destination_arn, "ApproximateNumberOfMessagesMoved": moved,
            "ApproximateNumberOfMessagesToMove": moved, "StartedTimestamp": int(time.time() * 1000),
        })
        log(f"message-move task {handle}: moved {moved} message(s) from {source.queue_arn} to {destination_arn}")
        return ActionResult({"TaskHandle": handle})

    def list_message_move_tasks(self):
        from moto.core.responses import ActionResult

        source = queue_by_arn(self.sqs_backend, self._get_param("SourceArn"))
        limit = int(self._get_param("MaxResults") or 1)
        return ActionResult({"Results": tasks.get(source.queue_arn, [])[:limit]})

    SQSResponse.start_message_move_task = start_message_move_task
    SQSResponse.list_message_move_tasks = list_message_move_tasks


def install_lambda_signature_fix() -> None:
    """moto 5.2.5 verifies the SigV4 signature of a Lambda request without a body over the
    request's headers, as if they were a form body (its LambdaResponse data), so no correctly
    signed Lambda GET verifies (SignatureDoesNotMatch, for any user). The rig verifies such a
    request over the empty body it has, as AWS does; the signature is still checked."""
    from moto.iam.access_control import IAMRequestBase

    create = IAMRequestBase._create_aws_request

    def create_aws_request(self):
        if self._service == "lambda" and not self._body and self._method == "GET":
            data, self._data = self._data, b""
            try:
                return create(self)
            finally:
                self._data = data
        return create(self)

    IAMRequestBase._create_aws_request = create_aws_request


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    parser.add_argument("--stack-name", default="relay-iam")
    parser.add_argument("--param", action="append", default=[], metavar="Name=Value")
    parser.add_argument("--secret-value", default=DEFAULT_SECRET)
    parser.add_argument("--kms-key", action="store_true",
                        help="create a KMS key in moto and deploy with KmsKeyArn set to it")
    parser.add_argument("--no-kms-authorization", action="store_true",
                        help="moto as it is: no authorization of the KMS use of S3, SQS and Secrets Manager")
    args = parser.parse_args(argv)

    # Only the JSON line may reach stdout: everything else (moto, werkzeug, samtranslator) goes
    # to stderr.
    stdout = sys.stdout
    sys.stdout = sys.stderr
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    server = None
    try:
        ops, state = plan(args)
        n = len(ops)
        os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(n)
        if "moto" in sys.modules:
            raise SetupError("moto was imported before INITIAL_NO_AUTH_ACTION_COUNT was set")
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.server import ThreadedMotoServer

        if settings.INITIAL_NO_AUTH_ACTION_COUNT != n:
            raise SetupError(f"moto read INITIAL_NO_AUTH_ACTION_COUNT={settings.INITIAL_NO_AUTH_ACTION_COUNT}, expected {n}")
        if not args.no_kms_authorization:
            install_kms_authorization()
        install_message_move_task()
        import lambda_stand_in

        lambda_stand_in.install()
        install_lambda_signature_fix()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
        log(f"moto on {endpoint}; {n} unauthenticated setup requests planned")

        run_setup(ops, endpoint)
        # Every planned request must have been one moto counted: if one was not (a handler that
        # skips authorization), the first "authorized" request would still pass unauthenticated.
        if ActionAuthenticatorMixin.request_count != n:
            raise SetupError(f"moto counted {ActionAuthenticatorMixin.request_count} unauthenticated requests, planned {n}")
        prove_enforcement(state, endpoint)

        names = state["names"]
        output = {
            "endpoint": endpoint,
            "region": REGION,
            "accountId": ACCOUNT_ID,
            "stackName": args.stack_name,
            "bucket": names["bucket"],
            "queueUrl": state["queueUrl"],
            "queueArn": state["queueArn"],
            "dlqUrl": state["dlqUrl"],
            "dlqArn": state["dlqArn"],
            "secretArn": state["secretArn"],
            "operatorRoleArn": state["operatorRoleArn"],
            "operatorSession": state["operatorSession"],
            "standIns": {
                "sqs:StartMessageMoveTask": "moves every visible message at once (install_message_move_task)",
                "sqs:ListMessageMoveTasks": "the tasks started here",
                "lambda:GetAccountSettings": "scripts/lambda_stand_in.py",
            },
            "secretName": names["secret"],
            "unauthenticatedRequests": n,
            "widened": state["widened"],
            "aliased": state["aliased"],
            "kmsKeyArn": state["parameters"].get("KmsKeyArn") or None,
            "kmsAuthorization": KMS_NEEDS if not args.no_kms_authorization else None,
            "parameters": state["parameters"],
            "users": {
                u.name: {"accessKeyId": u.key["accessKeyId"], "secretAccessKey": u.key["secretAccessKey"], "policy": u.policy}
                for u in state["users"]
            },
        }
        stdout.write(json.dumps(output) + "\n")
        stdout.flush()
        log(f"ready: {len(state['users'])} users, widened {state['widened']}, aliased {state['aliased']}")
        while sys.stdin.buffer.read1(65536):  # until EOF
            pass
        log("stdin closed: stopping")
        return 0
    except SetupError as e:
        log(f"error: {e}")
        return 2
    except (Stop, KeyboardInterrupt):
        log("signal: stopping")
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
