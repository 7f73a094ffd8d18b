"""migrate_to_dynamodb.py: every row of legacy-data.md, through ``main([...])``."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from backend import create_app
from backend.config import Settings
from backend.migration.cli import main
from backend.migration.sources import DEFAULT_SOURCE
from backend.storage import Storage
from backend.storage.dynamo import from_item
from tests.helpers import TIME_FORMS, dynamodb_errors, local_aws_client

DEV = "550e8400-e29b-41d4-a716-446655440000"
MKT = "6fa459ea-ee8a-3ca4-894e-db77e160355e"


def write(folder: Path, departments: Any, events: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (("departments.json", departments), ("events.json", events)):
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def migrate(settings: Settings, *args: str, storage: Storage | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), settings=settings, storage=storage, out=out)
    return code, out.getvalue()


def items(storage: Storage, table: str) -> list[dict[str, Any]]:
    return [from_item(i) for i in storage.batch_io().scan_raw(table)]


def departments(storage: Storage) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in items(storage, storage.departments.table) if "name" in d}


def events(storage: Storage) -> list[dict[str, Any]]:
    """The event items (not the calendar items and change records kept beside them)."""
    return [i for i in items(storage, storage.events.table) if not str(i["id"]).startswith("#")]


def report(
    tmp_path: Path, settings: Settings, folder: Path, *extra: str
) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "report.json"
    code, _ = migrate(settings, "--source", str(folder), "--report", str(path), *extra)
    return code, json.loads(path.read_text(encoding="utf-8"))


# -- the sample data and the seed's output ------------------------------------------------


def test_sample_data_migrates_with_seed_shaped_output_and_is_served(
    settings: Settings, storage: Storage
) -> None:
    code, out = migrate(settings)

    assert code == 0
    for line in [
        "🚀 JSON → DynamoDB 마이그레이션 시작",
        "📋 부서 데이터 마이그레이션 시작...",
        "  ✓ 부서 '개발팀' 마이그레이션 완료",
        "  ✓ 부서 '마케팅팀' 마이그레이션 완료",
        "📅 캘린더 이벤트 데이터 마이그레이션 시작...",
        "  ✓ 이벤트 '팀 회의' (2024-01-20) 마이그레이션 완료",
        "🔍 마이그레이션 검증 중...",
        "✅ 마이그레이션 검증 완료",
    ]:
        assert line in out.splitlines(), line
    client = create_app(settings, storage).test_client()
    listed = client.get(f"/api/events/{DEV}?month=2024-01").get_json()["items"]
    first = listed[0]
    assert (first["title"], first["time"], first["start_time"]) == (
        "팀 회의",
        "오후 2:00",
        "14:00",
    )
    assert client.get(f"/api/departments/{MKT}").get_json()["description"] is None
    assert client.post("/api/departments", json={"name": "개발팀"}).status_code == 409
    assert DEFAULT_SOURCE.is_dir()


def test_a_second_run_writes_nothing_and_changes_nothing(
    settings: Settings, storage: Storage
) -> None:
    migrate(settings)
    before = (departments(storage), sorted(events(storage), key=lambda e: e["id"]))

    code, out = migrate(settings)

    assert code == 0
    assert "새로 씀 written 0" in out
    assert (departments(storage), sorted(events(storage), key=lambda e: e["id"])) == before


def test_dry_run_reports_everything_and_writes_nothing(
    settings: Settings, storage: Storage
) -> None:
    code, out = migrate(settings, "--dry-run")

    assert code == 0
    assert "dry run" in out
    assert "✓ 부서 '개발팀' 마이그레이션 완료" in out
    assert items(storage, storage.departments.table) == []
    assert events(storage) == []


# -- what real files contain --------------------------------------------------------------


def test_bom_korean_and_emoji_are_stored_unchanged(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    dept = [{"id": "d1", "name": "개발팀 🚀", "description": "백엔드/프론트엔드 — ✓"}]
    evts = {
        "d1": {"2024-01-20": [{"id": "e1", "title": "팀 회의 🎉", "description": "주간 회의 😀"}]}
    }
    (folder / "departments.json").write_bytes(
        b"\xef\xbb\xbf" + json.dumps(dept, ensure_ascii=False).encode()
    )
    (folder / "events.json").write_bytes(
        b"\xef\xbb\xbf" + json.dumps(evts, ensure_ascii=False).encode()
    )

    code, _ = migrate(settings, "--source", str(folder))

    assert code == 0
    assert departments(storage)["d1"]["name"] == "개발팀 🚀"
    assert departments(storage)["d1"]["description"] == "백엔드/프론트엔드 — ✓"
    [event] = events(storage)
    assert (event["title"], event["description"]) == ("팀 회의 🎉", "주간 회의 😀")


def test_records_without_id_get_the_same_id_on_every_run(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    folder = write(
        tmp_path / "src",
        [{"name": "개발팀"}],
        [{"department_id": "ignored", "event_date": "2024-01-20", "title": "x"}],
    )
    dept_id_run = {}
    for run in (1, 2):
        code, _ = migrate(settings, "--source", str(folder))
        assert code == 1  # the event is an orphan: departments.json has no such department
        dept_id_run[run] = set(departments(storage))
    assert dept_id_run[1] == dept_id_run[2]
    assert len(dept_id_run[1]) == 1

    dept_id = next(iter(dept_id_run[1]))
    write(
        folder,
        [{"name": "개발팀"}],
        [{"department_id": dept_id, "event_date": "2024-01-20", "title": "x"}],
    )
    assert migrate(settings, "--source", str(folder))[0] == 0
    assert migrate(settings, "--source", str(folder))[0] == 0
    assert len(events(storage)) == 1


def test_numeric_ids_are_kept_as_their_string_form(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    folder = write(
        tmp_path / "src",
        [{"id": 7, "name": "개발팀"}],
        [{"id": 12, "department_id": 7, "event_date": "2024-01-20", "title": "회의"}],
    )

    assert migrate(settings, "--source", str(folder))[0] == 0

    assert set(departments(storage)) == {"7"}
    [event] = events(storage)
    assert (event["id"], event["department_id"]) == ("12", "7")
    client = create_app(settings, storage).test_client()
    assert client.get("/api/events/7/12").get_json()["title"] == "회의"


def test_missing_or_null_description_is_stored_without_one(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    folder = write(
        tmp_path / "src",
        [{"id": "a", "name": "A"}, {"id": "b", "name": "B", "description": None}],
        {},
    )

    assert migrate(settings, "--source", str(folder))[0] == 0

    assert all("description" not in d for d in departments(storage).values())


def test_extra_fields_are_kept_on_the_item(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    folder = write(
        tmp_path / "src",
        [
            {
                "id": "d",
                "name": "개발팀",
                "manager": "김철수",
                "budget": 1.5,
                "tags": ["a", {"b": None}],
            }
        ],
        {"d": {"2024-01-20": [{"id": "e", "title": "회의", "room": "3층", "version": 9}]}},
    )

    assert migrate(settings, "--source", str(folder))[0] == 0

    dept = departments(storage)["d"]
    assert (dept["manager"], str(dept["budget"]), dept["tags"]) == (
        "김철수",
        "1.5",
        ["a", {"b": None}],
    )
    [event] = events(storage)
    assert event["room"] == "3층"
    assert event["legacy_version"] == 9  # a field the product maintains is kept aside, not lost
    assert event["version"] == 1


@pytest.mark.parametrize("written", ["2024-1-5", "2024/01/05", "2024.01.05", "2024-01-05"])
def test_legacy_date_forms_are_normalised(
    tmp_path: Path, settings: Settings, storage: Storage, written: str
) -> None:
    folder = write(
        tmp_path / "src", [{"id": "d", "name": "A"}], {"d": {written: [{"id": "e", "title": "t"}]}}
    )

    assert migrate(settings, "--source", str(folder))[0] == 0

    assert events(storage)[0]["event_date"] == "2024-01-05"


@pytest.mark.parametrize("bad", ["2024-02-30", "next week", "2023-02-29", ""])
def test_impossible_dates_are_rejected_with_file_path_and_reason(
    tmp_path: Path, settings: Settings, storage: Storage, bad: str
) -> None:
    folder = write(
        tmp_path / "src",
        [{"id": "d", "name": "A"}],
        [
            {"id": "ok", "department_id": "d", "event_date": "2024-02-29", "title": "ok"},
            {"id": "bad", "department_id": "d", "event_date": bad, "title": "bad"},
        ],
    )

    code, result = report(tmp_path, settings, folder)

    assert code == 1
    [rejection] = result["rejected"]
    assert rejection["file"].endswith("events.json")
    assert rejection["path"] == "$[1]"
    assert "date" in rejection["reason"]
    assert rejection["record"]["id"] == "bad"
    assert [e["id"] for e in events(storage)] == ["ok"]


@pytest.mark.parametrize(
    ("time_text", "start_time"),
    TIME_FORMS,
)
def test_time_is_kept_with_start_time_read_by_the_api_parser(
    tmp_path: Path,
    settings: Settings,
    storage: Storage,
    time_text: str | None,
    start_time: str | None,
) -> None:
    event: dict[str, Any] = {"id": "e", "title": "t"} | (
        {} if time_text is None else {"time": time_text}
    )
    folder = write(tmp_path / "src", [{"id": "d", "name": "A"}], {"d": {"2024-01-20": [event]}})

    assert migrate(settings, "--source", str(folder))[0] == 0

    [stored] = events(storage)
    assert stored.get("time") == time_text
    assert stored.get("start_time") == start_time
    served = create_app(settings, storage).test_client().get("/api/events/d/e").get_json()
    assert (served["time"], served["start_time"]) == (time_text, start_time)


def test_white_space_around_names_and_titles_is_trimmed(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    folder = write(
        tmp_path / "src",
        [{"id": "d", "name": "  개발팀 \t"}, {"id": "d2", "name": "개발팀"}],
        {"d": {"2024-01-20": [{"id": "e", "title": "  팀 회의  "}]}},
    )

    code, result = report(tmp_path, settings, folder)

    assert code == 1
    assert departments(storage)["d"]["name"] == "개발팀"
    assert events(storage)[0]["title"] == "팀 회의"
    [clash] = result["rejected"]
    assert (clash["path"], clash["kind"]) == ("$[1]", "department")
    assert "already used" in clash["reason"]


@pytest.mark.parametrize(
    ("dept", "event", "path"),
    [
        ({"id": "x", "name": ""}, None, "$[1]"),
        ({"id": "x", "name": "   "}, None, "$[1]"),
        ({"id": "x"}, None, "$[1]"),
        (None, {"id": "e", "title": ""}, '$["d"]["2024-01-20"][0]'),
        (None, {"id": "e", "title": " "}, '$["d"]["2024-01-20"][0]'),
        (None, {"id": "e"}, '$["d"]["2024-01-20"][0]'),
        (None, {"id": "e", "title": 5}, '$["d"]["2024-01-20"][0]'),
    ],
)
def test_empty_names_and_titles_are_rejected(
    tmp_path: Path, settings: Settings, storage: Storage, dept: Any, event: Any, path: str
) -> None:
    depts = [{"id": "d", "name": "A"}] + ([dept] if dept else [])
    evts = {"d": {"2024-01-20": [event]}} if event else {}
    folder = write(tmp_path / "src", depts, evts)

    code, result = report(tmp_path, settings, folder)

    assert code == 1
    assert [r["path"] for r in result["rejected"]] == [path]


def test_orphan_events_are_rejected(tmp_path: Path, settings: Settings, storage: Storage) -> None:
    folder = write(
        tmp_path / "src",
        [{"id": "d", "name": "A"}],
        {
            "d": {"2024-01-20": [{"id": "e1", "title": "ok"}]},
            "ghost": {"2024-01-20": [{"id": "e2", "title": "x"}]},
        },
    )

    code, result = report(tmp_path, settings, folder)

    assert code == 1
    [orphan] = result["rejected"]
    assert orphan["path"] == '$["ghost"]["2024-01-20"][0]'
    assert "orphan" in orphan["reason"]
    assert [e["id"] for e in events(storage)] == ["e1"]


def test_duplicates_are_migrated_once_and_conflicts_rejected(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    same = {"id": "e", "department_id": "d", "event_date": "2024-01-20", "title": "회의"}
    folder = write(
        tmp_path / "src",
        [{"id": "d", "name": "A"}, {"id": "d", "name": "A"}, {"id": "d", "name": "B"}],
        [same, dict(same), same | {"title": "다른 회의"}, same | {"event_date": "2024-1-20"}],
    )

    code, result = report(tmp_path, settings, folder)

    assert code == 1
    summary = result["summary"]
    assert summary["departments"] == {
        "read": 3,
        "written": 1,
        "already_present": 0,
        "rejected": 1,
        "duplicates": 1,
    }
    assert summary["events"] == {
        "read": 4,
        "written": 1,
        "already_present": 0,
        "rejected": 1,
        "duplicates": 2,
    }
    assert sorted(r["path"] for r in result["rejected"]) == ["$[2]", "$[2]"]
    assert [e["title"] for e in events(storage)] == ["회의"]


def test_both_older_forms_are_read(tmp_path: Path, settings: Settings, storage: Storage) -> None:
    folder = write(
        tmp_path / "src",
        {DEV: {"name": "개발팀", "description": "..."}, MKT: {"name": "마케팅팀"}},
        [{"department_id": DEV, "event_date": "2024-01-20", "title": "팀 회의", "time": "14:00"}],
    )

    code, _ = migrate(settings, "--source", str(folder))

    assert code == 0
    assert {d["name"] for d in departments(storage).values()} == {"개발팀", "마케팅팀"}
    [event] = events(storage)
    assert (event["department_id"], event["start_time"]) == (DEV, "14:00")


def test_separate_department_and_event_files(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    one = write(tmp_path / "one", [{"id": "d", "name": "A"}], {})
    two = write(tmp_path / "two", [], {"d": {"2024-01-20": [{"id": "e", "title": "t"}]}})

    code, _ = migrate(
        settings,
        "--departments",
        str(one / "departments.json"),
        "--events",
        str(two / "events.json"),
    )

    assert code == 0
    assert len(events(storage)) == 1


# -- files that stop the run before anything is written -----------------------------------


@pytest.mark.parametrize(
    ("departments_text", "events_text", "message"),
    [
        ('[{"id": "d", "name": "A"},', "{}", "departments.json: not valid JSON"),
        ('"just text"', "{}", "neither form of departments.json"),
        ("[]", '{"d": {"2024-01-20": [{"title": "x"}]}', "events.json: not valid JSON"),
        ("[]", "42", "neither form of events.json"),
        ("[]", "", "events.json"),
        ('[{"id": "d", "name": NaN}]', "{}", "departments.json: not valid JSON"),
        ("[]", "[] []", "events.json"),
    ],
)
def test_bad_files_exit_2_naming_the_file_and_write_nothing(
    tmp_path: Path,
    settings: Settings,
    storage: Storage,
    departments_text: str,
    events_text: str,
    message: str,
) -> None:
    good = [{"id": "ok", "name": "멀쩡한 부서"}]
    folder = write(
        tmp_path / "src", departments_text if departments_text != "[]" else good, events_text
    )

    code, out = migrate(settings, "--source", str(folder))

    assert code == 2
    assert message in out
    assert "Nothing was written" in out
    assert items(storage, storage.departments.table) == []


def test_a_broken_end_of_a_large_events_file_stops_before_any_write(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    body = ",".join(
        json.dumps({"id": f"e{n}", "department_id": "d", "event_date": "2024-01-20", "title": "t"})
        for n in range(500)
    )
    folder = write(tmp_path / "src", [{"id": "d", "name": "A"}], "[" + body + ", {oops}]")

    code, out = migrate(settings, "--source", str(folder))

    assert code == 2
    assert "line 1 column" in out
    assert items(storage, storage.departments.table) == []
    assert events(storage) == []


def test_missing_files_and_tables_exit_2(tmp_path: Path, settings: Settings) -> None:
    assert migrate(settings, "--source", str(tmp_path / "nowhere"))[0] == 2
    folder = write(tmp_path / "src", [{"id": "d", "name": "A"}], {})

    code, out = migrate(settings, "--source", str(folder))  # the storage fixture was not used

    assert code == 2
    assert "does not exist" in out
    assert "create_tables()" in out


# -- what is already in the tables ----------------------------------------------------------


def test_items_edited_through_the_api_are_kept_and_reported_unless_overwrite(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    migrate(settings)
    client = create_app(settings, storage).test_client()
    client.patch(f"/api/departments/{DEV}", json={"description": "API에서 고침"})
    event_url = f"/api/events/{DEV}/a1b2c3d4-0000-4000-8000-000000000001"
    client.patch(event_url, json={"title": "API 제목"})
    event_date = client.get(event_url).get_json()["event_date"]
    month = f"/api/events/{DEV}?month={event_date[:7]}"
    listed = client.get(month)  # a page this server keeps at the calendar's version

    code, result = report(tmp_path, settings, DEFAULT_SOURCE)

    assert code == 1
    assert {r["kind"] for r in result["rejected"]} == {"department", "event"}
    assert all("kept" in r["reason"] for r in result["rejected"])
    assert client.get(f"/api/departments/{DEV}").get_json()["description"] == "API에서 고침"
    assert client.get(event_url).get_json()["title"] == "API 제목"

    code, _ = report(tmp_path, settings, DEFAULT_SOURCE, "--overwrite")

    assert code == 0
    department = client.get(f"/api/departments/{DEV}").get_json()
    assert department["description"] == "백엔드/프론트엔드 개발"
    assert department["version"] == 3  # moved on, so stale ETags held by clients fail
    assert client.get(event_url).get_json()["title"] == "팀 회의"
    # The overwrite moved the calendar's version: lists, their ETag and the kept page.
    relisted = client.get(month)
    assert relisted.headers["ETag"] != listed.headers["ETag"]
    assert "팀 회의" in [e["title"] for e in relisted.get_json()["items"]]
    assert "API 제목" not in [e["title"] for e in relisted.get_json()["items"]]


def test_a_name_held_by_another_department_in_the_table_is_a_conflict(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    client = create_app(settings, storage).test_client()
    client.post("/api/departments", json={"name": "개발팀"})

    code, result = report(tmp_path, settings, DEFAULT_SOURCE)

    assert code == 1
    [clash] = [r for r in result["rejected"] if r["kind"] == "department"]
    assert "already taken in the table" in clash["reason"]
    orphans = [r for r in result["rejected"] if r["kind"] == "event"]
    assert len(orphans) == 3  # the events of the department that could not be migrated


# -- interruption and throttling ----------------------------------------------------------


class Killed(BaseException):
    """Stands in for SIGKILL: nothing in the program catches it."""


def _kill_after(writes: int) -> Any:
    seen = {"n": 0}
    lock = threading.Lock()

    def hook(model: Any, **_: Any) -> None:
        if model.name == "BatchWriteItem":
            with lock:
                seen["n"] += 1
                if seen["n"] > writes:
                    raise Killed

    return hook


def _large_source(tmp_path: Path, count: int) -> Path:
    depts = [{"id": f"d{n}", "name": f"부서 {n}"} for n in range(5)]
    evts = [
        {
            "id": f"e{n}",
            "department_id": f"d{n % 5}",
            "event_date": f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
            "title": f"일정 {n}",
        }
        for n in range(count)
    ]
    return write(tmp_path / "big", depts, evts)


def test_a_run_killed_half_way_then_run_again_finishes_with_no_duplicate_or_loss(
    tmp_path: Path, settings: Settings, storage: Storage, dynamodb: Any
) -> None:
    folder = _large_source(tmp_path, 1200)
    hook = _kill_after(20)
    dynamodb.meta.events.register("before-call.dynamodb", hook)
    try:
        with pytest.raises(Killed):
            migrate(settings, "--source", str(folder), storage=storage)
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb", hook)
    part = len(events(storage))
    assert 0 < part < 1200

    code, result = report(tmp_path, settings, folder)

    assert code == 0
    stored = events(storage)
    assert len(stored) == 1200
    assert len({(e["id"], e["department_id"]) for e in stored}) == 1200
    summary = result["summary"]["events"]
    assert summary["written"] + summary["already_present"] == 1200
    assert summary["already_present"] >= part


def test_throttling_is_absorbed_without_losing_a_record(
    tmp_path: Path, settings: Settings, storage: Storage, dynamodb: Any
) -> None:
    folder = _large_source(tmp_path, 600)
    state = {"writes": 0, "throttled": 0}

    def every_other_write(operation: str) -> bool:
        if operation != "BatchWriteItem":
            return False
        state["writes"] += 1
        refuse = state["writes"] % 2 == 1 and state["throttled"] < 16  # 16 times in all
        state["throttled"] += refuse
        return refuse

    with dynamodb_errors(dynamodb, every_other_write):
        code, _ = migrate(settings, "--source", str(folder), storage=storage)

    assert code == 0
    assert state["throttled"] == 16
    assert len(events(storage)) == 600


# -- S3 ------------------------------------------------------------------------------------


def test_s3_source(tmp_path: Path, settings: Settings, storage: Storage, aws_url: str) -> None:
    s3_url = aws_url
    s3 = local_aws_client("s3", s3_url)
    s3.create_bucket(
        Bucket="legacy", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"}
    )
    for name in ("departments.json", "events.json"):
        s3.upload_file(str(DEFAULT_SOURCE / name), "legacy", f"2024/backup/{name}")
    with_s3 = Settings(**{**settings.__dict__, "s3_endpoint_url": s3_url})

    code, out = migrate(with_s3, "--source", "s3://legacy/2024/backup/")

    assert code == 0
    assert "s3://legacy/2024/backup/events.json" in out
    assert len(events(storage)) == 5
    assert migrate(with_s3, "--source", "s3://legacy/nothing-here/")[0] == 2


# -- the report ----------------------------------------------------------------------------


def test_report_lists_every_rejection_so_it_can_be_fixed_and_fed_back(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    folder = write(
        tmp_path / "src",
        [{"id": "d", "name": "A"}],
        [
            {
                "id": f"e{n}",
                "department_id": "d",
                "event_date": "2024-02-30",
                "title": f"t{n}",
                "room": "3층",
            }
            for n in range(3)
        ],
    )

    code, result = report(tmp_path, settings, folder)
    assert code == 1
    fixed = [r["record"] | {"event_date": "2024-02-28"} for r in result["rejected"]]
    assert len(fixed) == 3
    write(folder, [{"id": "d", "name": "A"}], fixed)

    assert migrate(settings, "--source", str(folder))[0] == 0
    assert sorted(e["id"] for e in events(storage)) == ["e0", "e1", "e2"]
    assert {e["room"] for e in events(storage)} == {"3층"}


# -- output for large inputs and the guide's own command ----------------------------------


def test_large_inputs_print_progress_not_a_line_per_record(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    folder = _large_source(tmp_path, 400)

    code, out = migrate(settings, "--source", str(folder))

    assert code == 0
    assert "마이그레이션 완료: 400개" in out
    assert "… 400/400 events" in out
    assert "이벤트 '일정 1'" not in out
    assert len(out.splitlines()) < 60


def test_the_guide_command_from_backend(settings: Settings, storage: Storage) -> None:
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    result = subprocess.run(
        [sys.executable, "migrate_to_dynamodb.py"],
        cwd=DEFAULT_SOURCE.parent,
        env={
            "PATH": os.environ["PATH"],
            "AWS_ENDPOINT_URL_DYNAMODB": str(settings.endpoint_url),
            "AWS_REGION": settings.region,
            "DEPARTMENTS_TABLE": settings.departments_table,
            "EVENTS_TABLE": settings.events_table,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "✅ 마이그레이션 검증 완료" in result.stdout
    assert len(events(storage)) == 5


def test_a_capacity_cap_still_writes_everything(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    folder = _large_source(tmp_path, 300)

    code, _ = migrate(
        settings, "--source", str(folder), "--max-wcu", "500", "--max-rcu", "500", storage=storage
    )

    assert code == 0
    assert len(events(storage)) == 300


@pytest.mark.parametrize("value", ["0", "-5", "many", "inf"])
def test_a_bad_capacity_cap_is_refused_before_anything_is_written(
    settings: Settings, storage: Storage, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        migrate(settings, "--max-wcu", value, storage=storage)

    assert exit_.value.code == 2
    assert "--max-wcu" in capsys.readouterr().err
    assert events(storage) == []


def test_times_without_an_offset_are_read_as_korean_wall_clock_time(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    folder = write(
        tmp_path / "tz",
        [{"id": "d1", "name": "개발팀", "created_at": "2024-01-15T09:00:00"},
         {"id": "d2", "name": "디자인팀", "created_at": "2024-01-15T09:00:00+00:00"}],
        [],
    )  # fmt: skip

    code, _ = migrate(settings, "--source", str(folder), storage=storage)

    assert code == 0
    assert storage.departments.get("d1").created_at == "2024-01-15T00:00:00Z"  # 09:00 in Seoul
    assert storage.departments.get("d2").created_at == "2024-01-15T09:00:00Z"


def test_each_rejection_line_names_the_record_itself(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    folder = write(
        tmp_path / "named",
        [{"id": "d1", "name": "개발팀"}],
        [{"id": "e-77", "department_id": "d1", "event_date": "2024-02-30", "title": "발표"}],
    )

    _, out = migrate(settings, "--source", str(folder), storage=storage)

    line = next(line for line in out.splitlines() if "✗" in line and "2024-02-30" in line)
    assert "id 'e-77'" in line
    assert "title '발표'" in line


def test_a_date_takes_at_most_200_events_of_a_department(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    records = [
        {"id": f"e{n}", "department_id": "d1", "event_date": "2024-05-01", "title": f"일정 {n}"}
        for n in range(203)
    ]
    folder = write(tmp_path / "crowded", [{"id": "d1", "name": "개발팀"}], records)

    code, out = migrate(settings, "--source", str(folder), storage=storage)

    assert code == 1
    assert len(events(storage)) == 200
    assert out.count("the most one date may hold") == 3
