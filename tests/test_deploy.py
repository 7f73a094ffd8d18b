"""deploy/: the SAM template (cfn-lint clean, consistent with the code) and the IAM policies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from backend.api.access_log import _METRICS, METRICS_NAMESPACE
from backend.config import Settings
from backend.storage.schema import DEPARTMENTS, EVENTS

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    parsed, problems = decode(str(DEPLOY / "template.yaml"))
    assert not problems, problems
    assert parsed is not None
    return dict(parsed)


def test_cfn_lint_finds_nothing() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(DEPLOY / "template.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("logical", "schema"), [("DepartmentsTable", DEPARTMENTS), ("EventsTable", EVENTS)]
)
def test_tables_are_the_seed_schema_with_point_in_time_recovery(
    template: dict[str, Any], logical: str, schema: Any
) -> None:
    properties = template["Resources"][logical]["Properties"]
    wanted = schema.create_table_request("ignored", on_demand=False)

    for key in ("AttributeDefinitions", "KeySchema"):
        assert json.loads(json.dumps(properties[key])) == wanted[key], key
    for ours, theirs in zip(
        properties["GlobalSecondaryIndexes"], wanted["GlobalSecondaryIndexes"], strict=True
    ):
        for key in ("IndexName", "KeySchema", "Projection"):
            assert ours[key] == theirs[key], key
        # On demand by default; provisioned, never smaller than its table.
        condition, provisioned, on_demand = ours["ProvisionedThroughput"]["Fn::If"]
        assert (condition, provisioned) == ("Provisioned", theirs["ProvisionedThroughput"])
        assert on_demand == {"Ref": "AWS::NoValue"}
    assert properties["BillingMode"] == {
        "Fn::If": ["Provisioned", "PROVISIONED", "PAY_PER_REQUEST"]
    }
    condition, provisioned, _ = properties["ProvisionedThroughput"]["Fn::If"]
    assert provisioned == wanted["ProvisionedThroughput"]
    assert template["Parameters"]["TableCapacity"]["Default"] == "on-demand"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    if logical == "EventsTable":  # its bookkeeping and change records expire
        ttl = {"AttributeName": "expires_at", "Enabled": True}
        assert properties["TimeToLiveSpecification"] == ttl
    assert template["Resources"][logical]["DeletionPolicy"] == "Retain"


def test_provisioned_capacity_auto_scales_every_table_and_index(template: dict[str, Any]) -> None:
    scaled = {
        (r["Properties"]["ResourceId"]["Fn::Sub"], r["Properties"]["ScalableDimension"])
        for r in template["Resources"].values()
        if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    }
    for resource in (
        "table/${DepartmentsTable}",
        "table/${DepartmentsTable}/index/name-index",
        "table/${EventsTable}",
        "table/${EventsTable}/index/department-date-index",
    ):
        kind = "index" if "/index/" in resource else "table"
        for unit in ("ReadCapacityUnits", "WriteCapacityUnits"):
            assert (resource, f"dynamodb:{kind}:{unit}") in scaled


def test_every_function_logs_to_a_group_with_retention(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}

    assert set(functions) == {
        "ApiFunction",
        "ReportFunction",
        "BackupFunction",
        "DeliveryFunction",
    }
    for function in functions.values():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert resources[group]["Properties"]["RetentionInDays"]
        handler = function["Properties"]["Handler"]
        module, _, name = handler.rpartition(".")
        assert callable(getattr(__import__(module, fromlist=[name]), name)), handler


def test_report_runs_on_a_korean_schedule(template: dict[str, Any]) -> None:
    event = template["Resources"]["ReportFunction"]["Properties"]["Events"]["EveryMorning"]

    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["ScheduleExpressionTimezone"] == "Asia/Seoul"


def test_alarms_watch_metrics_the_code_emits(template: dict[str, Any]) -> None:
    emitted = {m["Name"] for m in _METRICS}
    ours = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"]["Namespace"] == METRICS_NAMESPACE
    ]

    assert {a["MetricName"] for a in ours} == {"Errors5xx", "DynamoDBThrottles"}
    assert all(a["MetricName"] in emitted for a in ours)


def test_the_api_function_gets_exactly_the_runtime_policy(template: dict[str, Any]) -> None:
    runtime = json.loads((DEPLOY / "iam-policy.json").read_text())
    [statement] = template["Resources"]["ApiFunction"]["Properties"]["Policies"][0]["Statement"]

    assert sorted(statement["Action"]) == sorted(runtime["Statement"][0]["Action"])


def test_policies_are_valid_json_and_split_admin_from_runtime() -> None:
    runtime = json.loads((DEPLOY / "iam-policy.json").read_text())
    admin = json.loads((DEPLOY / "iam-admin-policy.json").read_text())
    runtime_actions = {a for s in runtime["Statement"] for a in s["Action"]}
    admin_actions = {a for s in admin["Statement"] for a in s["Action"]}

    assert not runtime_actions & {
        "dynamodb:CreateTable",
        "dynamodb:DeleteTable",
        "dynamodb:ListTables",
    }
    assert {"dynamodb:CreateTable", "dynamodb:ListTables"} <= admin_actions
    star = [s for s in admin["Statement"] if s["Resource"] == "*"]
    assert [sorted(s["Action"]) for s in star] == [["dynamodb:ListStreams", "dynamodb:ListTables"]]


def test_the_optional_user_pool_signs_people_in_to_the_api(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    pool_parts = ("UserPool", "AdminGroup", "SignInDomain", "PageClient")
    assert all(resources[name]["Condition"] == "UsesUserPool" for name in pool_parts)
    assert template["Parameters"]["CreateUserPool"]["Default"] == "false"
    client = resources["PageClient"]["Properties"]
    assert client["GenerateSecret"] is False  # a public client: PKCE
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["CallbackURLs"] == [{"Ref": "PageUrl"}]
    assert resources["AdminGroup"]["Properties"]["GroupName"] == Settings().oidc_admin_group
    env = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    issuer = env["OIDC_ISSUER"]["Fn::If"]
    assert issuer[0] == "UsesUserPool"
    assert issuer[1]["Fn::Sub"].startswith("https://cognito-idp.${AWS::Region}.amazonaws.com/")
    assert issuer[2] == {"Ref": "OidcIssuer"}
    assert env["OIDC_AUDIENCE"]["Fn::If"][1] == {"Ref": "PageClient"}
    assert env["OIDC_GROUPS_CLAIM"]["Fn::If"][1] == "cognito:groups"
    # The seed's tables and policies are untouched by sign-in: no new DynamoDB action.
    [statement] = resources["ApiFunction"]["Properties"]["Policies"][0]["Statement"]
    assert all(action.startswith("dynamodb:") for action in statement["Action"])


def test_the_api_function_may_invoke_only_itself_for_import_jobs(
    template: dict[str, Any],
) -> None:
    policies = template["Resources"]["ApiFunction"]["Properties"]["Policies"]
    [statement] = policies[1]["Statement"]

    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"]["Fn::Sub"].endswith(":function:${AWS::StackName}-ApiFunction-*")
    # The seed's runtime policy (deploy/iam-policy.json) stays DynamoDB's alone.
    runtime = json.loads((DEPLOY / "iam-policy.json").read_text())
    assert all(a.startswith("dynamodb:") for s in runtime["Statement"] for a in s["Action"])
