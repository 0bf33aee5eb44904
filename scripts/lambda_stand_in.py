"""Lambda's GetAccountSettings on a moto server: moto 5.2.5 does not implement it.

`relayctl status` reads the account's concurrency quota with it. install() adds the call to
moto's Lambda service before the server starts, through moto's own dispatch, so a request is
authenticated and, on an IAM-enforcing server (scripts/moto_iam.py), authorized as
lambda:GetAccountSettings on "*" (the action has no resource-level scoping) before it is answered.

The answer has the shape of the Lambda API reference (GetAccountSettings, "Response Syntax"):
AccountLimit with ConcurrentExecutions and UnreservedConcurrentExecutions from the environment
variable LOCAL_LAMBDA_CONCURRENCY, "QUOTA[,UNRESERVED]" (default "1000,1000": the default quota
with nothing reserved; a new account may start at "10"). Nothing else of Lambda is involved.
"""

import json
import os

ENV = "LOCAL_LAMBDA_CONCURRENCY"


def concurrency(text: str | None) -> tuple[int, int]:
    """(quota, unreserved) from "QUOTA[,UNRESERVED]"."""
    parts = [int(p) for p in (text or "1000,1000").split(",")]
    if not 1 <= len(parts) <= 2 or any(p < 0 for p in parts):
        raise ValueError(f"{ENV}={text!r}: expected QUOTA[,UNRESERVED]")
    return parts[0], parts[-1]


def account_settings(quota: int, unreserved: int) -> dict:
    return {
        "AccountLimit": {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": quota,
            "UnreservedConcurrentExecutions": unreserved,
        },
        "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0},
    }


def install() -> None:
    """Before ThreadedMotoServer is created: the route and the handler."""
    import moto.awslambda.responses
    import moto.awslambda.urls

    quota, unreserved = concurrency(os.environ.get(ENV))
    route = r"{0}/(?P<api_version>[^/]+)/account-settings/?$"
    moto.awslambda.urls.url_paths[route] = moto.awslambda.responses.LambdaResponse.dispatch

    def get_account_settings(self):  # noqa: ARG001 (moto's dispatch authorizes before calling)
        return 200, {"Content-Type": "application/json"}, json.dumps(account_settings(quota, unreserved))

    moto.awslambda.responses.LambdaResponse.get_account_settings = get_account_settings
