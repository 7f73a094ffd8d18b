"""Every word the calendar page shows, in Korean (the default) and English.

The template renders the labels; the script receives the same table as JSON for what it
writes at run time, so a word is translated in one place.
"""

from __future__ import annotations

from typing import Any

from backend.access.rights import MAX_MEMBERS
from backend.fields import MAX_EVENT_DAYS, MAX_EVENTS_PER_DAY
from backend.public_holidays import FIRST_YEAR, LAST_YEAR
from backend.storage.series import MAX_SERIES

LANGUAGES = ("ko", "en")  # the first is the default when the browser states no preference

PAGE_TEXT: dict[str, dict[str, str]] = {
    "ko": {
        "app_title": "부서 캘린더",
        "department": "부서",
        "no_departments": "부서가 없습니다. 먼저 부서를 만드세요.",
        "new_department": "새 부서",
        "rename_department": "이름 바꾸기",
        "department_dialog_new": "새 부서 만들기",
        "department_dialog_rename": "부서 이름 바꾸기",
        "department_name": "부서 이름",
        "department_description": "설명",
        "department_created": "부서 '{name}'을(를) 만들었습니다.",
        "department_renamed": "부서 이름을 '{name}'(으)로 바꿨습니다.",
        "department_not_found": (
            "부서를 찾을 수 없습니다. 링크가 가리키는 부서가 없으니 목록에서 고르세요."
        ),
        "go_to_date": "날짜로 이동",
        "holiday": "공휴일",
        "more_link": "+{n}개 더보기",
        "search": "검색",
        "search_placeholder": "제목, 설명, 장소",
        "search_results": "'{q}' 검색 결과 {count}건 (보이는 기간)",
        "add_event": "새 일정",
        "subscribe": "구독 (.ics)",
        "subscribe_title": "캘린더 구독",
        "subscribe_help": (
            "이 주소를 Google 캘린더(다른 캘린더 → URL로 추가), Outlook 또는 Apple 캘린더에"
            " 넣으면 이 부서의 일정이 자동으로 보입니다."
        ),
        "subscribe_url": "구독 주소",
        "subscribe_copied": "구독 주소를 복사했습니다.",
        "subscribe_copy_by_hand": "주소를 선택했습니다. Ctrl+C(⌘C)로 복사하세요.",
        "copy_address": "복사",
        "close": "닫기",
        "event_dialog_new": "새 일정",
        "event_dialog_edit": "일정 수정",
        "title": "제목",
        "event_date": "날짜",
        "end_date": "끝나는 날짜",
        "end_date_hint": "여러 날 일정일 때만",
        "time": "시간",
        "time_placeholder": "예: 오후 3시, 14:00~15:00",
        "time_hint": "쓰는 그대로 적으세요. 비워 두면 종일 일정입니다.",
        "parsed_time": "읽은 시간: {time}",
        "parsed_none": "시간을 읽지 못해 종일 일정으로 보입니다.",
        "repeat": "반복",
        "repeat_none": "반복 안 함",
        "repeat_daily": "매일",
        "repeat_weekly": "매주 {days}",
        "repeat_monthly": "매월",
        "repeat_yearly": "매년 {date}",
        "repeat_custom": "맞춤…",
        "repeat_keep": "지금 규칙 그대로",
        "repeat_rule": "지금 규칙: {rule} (이 화면에서 고칠 수 없는 규칙이라 그대로 둡니다)",
        "repeat_interval": "간격",
        "repeat_units": "일마다,주마다,개월마다,년마다",
        "repeat_weekdays": "요일",
        "weekday_names": "일요일,월요일,화요일,수요일,목요일,금요일,토요일",
        "weekday_short": "일,월,화,수,목,금,토",
        "weekday_join": ", ",
        "repeat_monthly_by": "반복 날짜",
        "repeat_monthly_day": "매월 {day}일",
        "repeat_monthly_nth": "매월 {nth} {weekday}",
        "ordinals": "첫째,둘째,셋째,넷째,마지막",
        "repeat_ends": "종료",
        "repeat_end_never": "없음",
        "repeat_end_until": "날짜",
        "repeat_end_count": "횟수",
        "repeat_until_label": "종료 날짜",
        "repeat_count_label": "반복 횟수",
        "repeat_count_unit": "회",
        "repeat_need_day": "요일을 하나 이상 고르세요.",
        "repeat_need_number": "1에서 999 사이의 수를 적으세요.",
        "repeat_need_until": "종료 날짜를 시작일 이후로 고르세요.",
        "repeat_mark": "반복 일정",
        "scope_title_save": "반복 일정 수정",
        "scope_title_delete": "반복 일정 삭제",
        "scope_this": "이 일정",
        "scope_following": "이 일정 및 향후 일정",
        "scope_all": "모든 일정",
        "scope_rule_changed": "반복 규칙을 바꾸면 이 일정만 바꿀 수는 없습니다.",
        "location": "장소",
        "category": "분류",
        "category_placeholder": "예: 회의",
        "category_suggestions": "회의,연차,출장,외근,교육",
        "description": "설명",
        "save": "저장",
        "delete": "삭제",
        "cancel": "취소",
        "confirm_delete": "'{title}' 일정을 삭제할까요?",
        "event_created": "'{title}' 일정을 추가했습니다. {time}",
        "event_saved": "'{title}' 일정을 저장했습니다. {time}",
        "event_deleted": "'{title}' 일정을 삭제했습니다.",
        "conflict": (
            "그 사이에 다른 사람이 이 일정을 바꿨습니다. 내가 입력한 내용과 지금 저장된 내용을"
            " 비교한 뒤, 내 변경을 다시 적용하거나 저장된 내용을 불러오세요."
        ),
        "conflict_field": "항목",
        "conflict_yours": "내가 입력한 내용",
        "conflict_theirs": "지금 저장된 내용",
        "conflict_same": "저장된 내용이 내가 입력한 내용과 같습니다.",
        "reapply": "내 변경 다시 적용",
        "use_theirs": "저장된 내용 불러오기",
        "empty_value": "(없음)",
        "conflict_department": "그 사이에 다른 사람이 이 부서를 바꿨습니다. 다시 불러오세요.",
        "reload": "다시 불러오기",
        "reloaded": "최신 내용을 불러왔습니다.",
        "gone": "이 일정은 이미 삭제되었습니다.",
        "token_title": "쓰기 토큰",
        "token_help": (
            "이 서버는 바꾸기 전에 토큰을 요구합니다. 토큰은 이 브라우저 탭에만 보관됩니다."
        ),
        "token_rejected": "토큰이 맞지 않습니다. 다시 입력하세요.",
        "token": "토큰",
        "token_needed": "토큰이 없어서 저장하지 못했습니다.",
        "ok": "확인",
        "sign_in": "로그인",
        "sign_out": "로그아웃",
        "signed_in_as": "{name} 님",
        "account": "로그인 정보",
        "sign_in_needed": "로그인이 필요합니다. 로그인한 뒤 다시 해 보세요.",
        "sign_in_expired": "로그인이 만료되었습니다. 다시 로그인한 뒤 다시 해 보세요.",
        "sign_in_failed": "로그인하지 못했습니다. 다시 해 보세요.",
        "event_dialog_view": "일정",
        "read_only": "이 부서의 일정은 볼 수만 있습니다.",
        "load_failed": "일정을 불러오지 못했습니다: {detail}",
        "network_error": "서버에 연결하지 못했습니다.",
        "more_pages": "일정이 너무 많아 일부만 보입니다.",
        "event_moved": "'{title}' 일정을 옮겼습니다: {when}",
        "move_failed": "'{title}' 일정을 옮기지 못해 제자리로 돌렸습니다. {detail}",
        "import": "가져오기 (.ics)",
        "import_title": "iCalendar 파일 가져오기",
        "import_help": (
            "Google 캘린더, Outlook, Apple 캘린더에서 내보낸 .ics 파일을 고르세요. 먼저 무엇이"
            " 바뀔지 미리 보여 주고, 확인해야 가져옵니다."
        ),
        "import_file": ".ics 파일",
        "import_need_file": "가져올 파일을 고르세요.",
        "import_preview": "미리 보기",
        "import_confirm": "가져오기",
        "import_previewed": "미리 보기입니다. 아직 아무것도 바뀌지 않았습니다.",
        "import_nothing": "가져와도 바뀌는 일정이 없습니다.",
        "import_done": "가져왔습니다.",
        "import_status": (
            "'{name}' 파일을 가져왔습니다: 추가 {created}, 변경 {updated}, 삭제 {deleted},"
            " 거부 {rejected}"
        ),
        "import_created": "추가",
        "import_updated": "변경",
        "import_unchanged": "그대로",
        "import_deleted": "삭제",
        "import_rejected": "거부",
        "import_rejected_caption": "가져오지 못하는 일정과 그 이유",
        "import_uid": "UID",
        "import_line": "줄",
        "import_reason": "이유",
        "overlay": "함께 보기",
        "overlay_title": "함께 볼 부서",
        "overlay_help": (
            "고른 부서의 일정이 각 부서의 색 테두리로 함께 보입니다. 4개까지 고를 수 있습니다."
        ),
        "overlay_legend": "보이는 부서",
        "export": "내보내기 (.ics)",
        "export_label": "보이는 기간({from} ~ {to})의 일정을 .ics 파일로 내려받기",
    },
    "en": {
        "app_title": "Department calendar",
        "department": "Department",
        "no_departments": "There are no departments yet. Create one first.",
        "new_department": "New department",
        "rename_department": "Rename",
        "department_dialog_new": "New department",
        "department_dialog_rename": "Rename department",
        "department_name": "Name",
        "department_description": "Description",
        "department_created": "Created the department '{name}'.",
        "department_renamed": "Renamed the department to '{name}'.",
        "department_not_found": (
            "Department not found: the link names a department that does not exist. Choose one"
            " from the list."
        ),
        "go_to_date": "Go to date",
        "holiday": "Korean public holiday",
        "more_link": "+{n} more",
        "search": "Search",
        "search_placeholder": "Title, description, place",
        "search_results": "{count} results for '{q}' (in the shown dates)",
        "add_event": "New event",
        "subscribe": "Subscribe (.ics)",
        "subscribe_title": "Subscribe to the calendar",
        "subscribe_help": (
            "Add this address to Google Calendar (Other calendars → From URL), Outlook or"
            " Apple Calendar to see this department's events there, kept up to date."
        ),
        "subscribe_url": "Subscription address",
        "subscribe_copied": "Copied the subscription address.",
        "subscribe_copy_by_hand": "The address is selected: press Ctrl+C (⌘C) to copy it.",
        "copy_address": "Copy",
        "close": "Close",
        "event_dialog_new": "New event",
        "event_dialog_edit": "Edit event",
        "title": "Title",
        "event_date": "Date",
        "end_date": "End date",
        "end_date_hint": "only for events over several days",
        "time": "Time",
        "time_placeholder": "e.g. 3pm, 14:00-15:00, 오후 3시",
        "time_hint": "Write it as you would say it. Leave it empty for an all-day event.",
        "parsed_time": "Read as: {time}",
        "parsed_none": "No time could be read: shown as all-day.",
        "repeat": "Repeat",
        "repeat_none": "Does not repeat",
        "repeat_daily": "Daily",
        "repeat_weekly": "Weekly on {days}",
        "repeat_monthly": "Monthly",
        "repeat_yearly": "Annually on {date}",
        "repeat_custom": "Custom…",
        "repeat_keep": "Keep the current rule",
        "repeat_rule": "Current rule: {rule} (this page cannot edit it, so it is kept as it is)",
        "repeat_interval": "Every",
        "repeat_units": "days,weeks,months,years",
        "repeat_weekdays": "Repeat on",
        "weekday_names": "Sunday,Monday,Tuesday,Wednesday,Thursday,Friday,Saturday",
        "weekday_short": "Sun,Mon,Tue,Wed,Thu,Fri,Sat",
        "weekday_join": ", ",
        "repeat_monthly_by": "On",
        "repeat_monthly_day": "Monthly on day {day}",
        "repeat_monthly_nth": "Monthly on the {nth} {weekday}",
        "ordinals": "first,second,third,fourth,last",
        "repeat_ends": "Ends",
        "repeat_end_never": "Never",
        "repeat_end_until": "On",
        "repeat_end_count": "After",
        "repeat_until_label": "End date",
        "repeat_count_label": "Number of times",
        "repeat_count_unit": "times",
        "repeat_need_day": "Choose at least one day.",
        "repeat_need_number": "Enter a number from 1 to 999.",
        "repeat_need_until": "Choose an end date on or after the start.",
        "repeat_mark": "Repeating event",
        "scope_title_save": "Edit recurring event",
        "scope_title_delete": "Delete recurring event",
        "scope_this": "This event",
        "scope_following": "This and following events",
        "scope_all": "All events",
        "scope_rule_changed": "A changed rule cannot apply to this event alone.",
        "location": "Place",
        "category": "Category",
        "category_placeholder": "e.g. Meeting",
        "category_suggestions": "Meeting,Leave,Business trip,Out of office,Training",
        "description": "Description",
        "save": "Save",
        "delete": "Delete",
        "cancel": "Cancel",
        "confirm_delete": "Delete the event '{title}'?",
        "event_created": "Added '{title}'. {time}",
        "event_saved": "Saved '{title}'. {time}",
        "event_deleted": "Deleted '{title}'.",
        "conflict": (
            "Someone else changed this event in the meantime. Compare your change with what is"
            " saved now, then apply yours again or load the saved version."
        ),
        "conflict_field": "Field",
        "conflict_yours": "Your change",
        "conflict_theirs": "Saved now",
        "conflict_same": "What is saved now is the same as what you entered.",
        "reapply": "Apply my change again",
        "use_theirs": "Load the saved version",
        "empty_value": "(none)",
        "conflict_department": "Someone else changed this department in the meantime. Reload it.",
        "reload": "Reload",
        "reloaded": "Loaded the latest version.",
        "gone": "This event has already been deleted.",
        "token_title": "Write token",
        "token_help": (
            "This server asks for a token before changes. It is kept in this browser tab only."
        ),
        "token_rejected": "That token was refused. Enter it again.",
        "token": "Token",
        "token_needed": "Not saved: a token is needed.",
        "ok": "OK",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "signed_in_as": "Signed in as {name}",
        "account": "Account",
        "sign_in_needed": "This needs you to sign in. Sign in, then try again.",
        "sign_in_expired": "Your sign-in has expired. Sign in again, then try again.",
        "sign_in_failed": "Signing in did not work. Try again.",
        "event_dialog_view": "Event",
        "read_only": "You can see this department's events but not change them.",
        "load_failed": "Could not load the events: {detail}",
        "network_error": "The server could not be reached.",
        "more_pages": "Too many events: only some are shown.",
        "event_moved": "Moved '{title}': {when}",
        "move_failed": "Could not move '{title}'; it is back where it was. {detail}",
        "import": "Import (.ics)",
        "import_title": "Import an iCalendar file",
        "import_help": (
            "Choose an .ics file exported from Google Calendar, Outlook or Apple Calendar. What"
            " would change is shown first; nothing is imported until you confirm."
        ),
        "import_file": ".ics file",
        "import_need_file": "Choose a file to import.",
        "import_preview": "Preview",
        "import_confirm": "Import",
        "import_previewed": "This is a preview: nothing has changed yet.",
        "import_nothing": "Importing this file would change no event.",
        "import_done": "Imported.",
        "import_status": (
            "Imported '{name}': {created} created, {updated} updated, {deleted} deleted,"
            " {rejected} rejected"
        ),
        "import_created": "Created",
        "import_updated": "Updated",
        "import_unchanged": "Unchanged",
        "import_deleted": "Deleted",
        "import_rejected": "Rejected",
        "import_rejected_caption": "Events that cannot be imported, and why",
        "import_uid": "UID",
        "import_line": "Line",
        "import_reason": "Reason",
        "overlay": "Show with…",
        "overlay_title": "Departments to show with it",
        "overlay_help": (
            "Their events are shown alongside, outlined in each department's colour. Up to four."
        ),
        "overlay_legend": "Departments shown",
        "export": "Export (.ics)",
        "export_label": "Download the events shown ({from} to {to}) as an .ics file",
    },
}


# -- error messages ----------------------------------------------------------------------
#
# The API's problem+json speaks English (``detail``, ``errors[].message``); the page never
# shows that text. It picks its own words by the problem ``type`` (the slug after
# /problems/) and, for each ``errors[]`` entry, by the field and the kind of rule broken.
# The kind is recognised from the start of the API's message by ``FIELD_RULES`` (patterns
# that Python's re and JavaScript's RegExp read alike; group 1, if any, is ``{n}``).
# An entry no rule recognises gets its field's generic message; a field the page does not
# know gets ``field_generic``. ``tests/test_calendar_page.py`` checks that every problem
# type and writable field of the OpenAPI document has words in both languages, and that
# what the API answers for broken input is recognised.

FIELD_RULES: tuple[tuple[str, str], ...] = (
    ("required", r"^is required$"),
    ("unknown_field", r"^is not a (field|parameter) of this"),
    ("wrong_type", r"^must be (a string|a list of e-mail addresses|a JSON object), not "),
    ("surrogate", r"^holds a lone UTF-16 surrogate"),
    ("too_long", r"^must be at most (\d+) characters"),
    ("empty", r"^must not be empty$"),
    ("control", r"^must not contain control characters"),
    ("invisible", r"^must not contain invisible characters"),
    ("date", r"^must be a date written YYYY-MM-DD|is not a real calendar date$"),
    ("clock", r"^must be a 24-hour time written HH:MM"),
    ("too_many", r"^must hold at most (\d+) addresses"),
    ("email", r"^is not an e-mail address"),
    ("before_start", r"^must not be before event_date"),
    ("too_many_days", r"^must be at most (\d+) days after event_date"),
    ("needs_start", r"^needs a start"),
    ("not_after_start", r"^must be later than the start \((\d\d:\d\d)\)"),
)

MESSAGES: dict[str, dict[str, Any]] = {
    "ko": {
        # By problem type. {name}: the name the person typed (department forms).
        "problems": {
            "bad-request": "요청을 읽지 못했습니다. 페이지를 새로 고친 뒤 다시 해 보세요.",
            "unauthorized": "쓰기 권한이 없습니다. 토큰을 확인하세요.",
            "not-found": "찾는 항목이 없습니다. 그 사이에 삭제되었을 수 있습니다.",
            "method-not-allowed": "이 서버는 이 작업을 받지 않습니다.",
            "name-taken": "'{name}' 이름은 이미 다른 부서가 쓰고 있습니다. 다른 이름을 고르세요.",
            "has-events": "이 부서에는 아직 일정이 있습니다. 일정을 먼저 지우세요.",
            "busy": "같은 항목이 동시에 여러 번 바뀌고 있어 적용하지 못했습니다. 다시 해 보세요.",
            "day-full": (
                f"이 날짜에는 일정을 더 넣을 수 없습니다 (하루 최대 {MAX_EVENTS_PER_DAY}건)."
            ),
            "sync-token-expired": "동기화 기록이 만료되었습니다. 처음부터 다시 불러오세요.",
            "too-many-webhooks": (
                "이 부서에는 웹훅을 더 등록할 수 없습니다. 하나를 지운 뒤 다시 하세요."
            ),
            "too-many-series": (
                f"이 부서에는 반복 일정을 더 만들 수 없습니다 (최대 {MAX_SERIES}개). "
                "끝난 반복 일정을 지우세요."
            ),
            "too-many-exceptions": (
                "이 반복 일정에는 따로 바꾼 일정이 너무 많습니다. 모든 일정을 바꾸거나 "
                "'이 일정 및 향후 일정'으로 바꾸세요."
            ),
            "idempotency-key-in-use": "같은 요청을 아직 처리하고 있습니다. 잠시 뒤 다시 해 보세요.",
            "precondition-failed": "그 사이에 다른 사람이 바꿨습니다. 다시 불러오세요.",
            "payload-too-large": "보낸 내용이 너무 큽니다 (최대 1 MiB).",
            "unsupported-media-type": "서버가 읽을 수 없는 형식으로 보냈습니다.",
            "validation-error": "입력한 내용을 확인하세요.",
            "idempotency-key-reused": (
                "같은 요청 키가 다른 내용으로 이미 쓰였습니다. 다시 해 보세요."
            ),
            "internal-error": "서버에서 오류가 났습니다. 잠시 뒤 다시 해 보세요.",
            "storage-unavailable": "저장소가 지금 응답하지 않습니다. 잠시 뒤 다시 해 보세요.",
            "forbidden": "이 부서에서 그렇게 할 권한이 없습니다. 부서 소유자에게 요청하세요.",
            "last-owner": "부서의 마지막 소유자입니다. 다른 사람을 먼저 소유자로 지정하세요.",
            "too-many-members": (
                f"이 부서에는 구성원을 더 넣을 수 없습니다 (최대 {MAX_MEMBERS}명). "
                "그룹을 대신 지정하세요."
            ),
            "sign-in-unavailable": "로그인 서버가 지금 응답하지 않습니다. 잠시 뒤 다시 해 보세요.",
        },
        "problem_other": "요청을 처리하지 못했습니다 (HTTP {status}).",
        # By the kind of rule an errors[] entry names (see FIELD_RULES).
        "rules": {
            "required": "꼭 입력해야 합니다.",
            "unknown_field": "이 서버가 모르는 항목입니다.",
            "wrong_type": "값의 형식이 맞지 않습니다.",
            "surrogate": "깨진 문자가 들어 있습니다. 이모지 같은 문자를 다시 입력하세요.",
            "too_long": "{n}자 이하로 입력하세요.",
            "empty": "비워 둘 수 없습니다.",
            "control": "줄바꿈이나 제어 문자는 쓸 수 없습니다.",
            "invisible": "보이지 않는 문자(폭 없는 공백, 방향 제어 문자)는 쓸 수 없습니다.",
            "date": "올바른 날짜를 입력하세요.",
            "clock": "24시간제 HH:MM으로 입력하세요.",
            "too_many": "주소는 {n}개까지 넣을 수 있습니다.",
            "email": "올바른 이메일 주소가 아닙니다.",
            "before_start": "끝나는 날짜는 날짜(시작일)보다 앞설 수 없습니다.",
            "too_many_days": (f"끝나는 날짜는 시작일로부터 {MAX_EVENT_DAYS}일 안이어야 합니다."),
            "needs_start": "끝나는 시간만 있습니다. 시간 칸에 시작 시간도 적으세요.",
            "not_after_start": "끝나는 시간은 시작 시간({n})보다 늦어야 합니다.",
        },
        # By resource and field: its name, and what to say when no rule is recognised.
        "fields": {
            "event.event_date": {"label": "날짜", "generic": "날짜를 확인하세요."},
            "event.title": {"label": "제목", "generic": "제목을 확인하세요."},
            "event.time": {"label": "시간", "generic": "시간을 확인하세요."},
            "event.description": {"label": "설명", "generic": "설명을 확인하세요."},
            "event.end_date": {"label": "끝나는 날짜", "generic": "끝나는 날짜를 확인하세요."},
            "event.end_time": {"label": "끝나는 시간", "generic": "끝나는 시간을 확인하세요."},
            "event.location": {"label": "장소", "generic": "장소를 확인하세요."},
            "event.category": {"label": "분류", "generic": "분류를 확인하세요."},
            "event.recurrence": {"label": "반복", "generic": "반복 설정을 확인하세요."},
            "department.name": {"label": "부서 이름", "generic": "부서 이름을 확인하세요."},
            "department.description": {"label": "설명", "generic": "설명을 확인하세요."},
            "department.notify_emails": {
                "label": "알림 이메일",
                "generic": "알림 이메일 주소를 확인하세요.",
            },
            "department.visibility": {"label": "공개 범위", "generic": "공개 범위를 확인하세요."},
        },
        "field_generic": "입력한 값을 확인하세요.",
    },
    "en": {
        "problems": {
            "bad-request": "The request could not be read. Reload the page and try again.",
            "unauthorized": "You may not make changes: check the token.",
            "not-found": "It does not exist; it may have been deleted meanwhile.",
            "method-not-allowed": "This server does not accept that action.",
            "name-taken": "Another department is already called '{name}'. Choose another name.",
            "has-events": "This department still has events. Delete them first.",
            "busy": "It was being changed too often at once to apply this. Try again.",
            "day-full": (
                f"This date cannot take more events (at most {MAX_EVENTS_PER_DAY} a day)."
            ),
            "sync-token-expired": "The sync history has expired. Load everything again.",
            "too-many-webhooks": "This department cannot take more webhooks. Delete one first.",
            "too-many-series": (
                f"This department cannot take more repeating events (at most {MAX_SERIES}). "
                "Delete one that has ended."
            ),
            "too-many-exceptions": (
                "Too many occurrences of this repeating event were changed one by one. Change "
                "all events, or this and following events."
            ),
            "idempotency-key-in-use": "The same request is still being processed. Try again soon.",
            "precondition-failed": "Someone else changed it in the meantime. Reload it.",
            "payload-too-large": "What was sent is too large (at most 1 MiB).",
            "unsupported-media-type": "It was sent in a form the server cannot read.",
            "validation-error": "Check what you entered.",
            "idempotency-key-reused": (
                "The same request key was already used for something else. Try again."
            ),
            "internal-error": "Something went wrong on the server. Try again in a moment.",
            "storage-unavailable": "The storage is not answering right now. Try again soon.",
            "forbidden": "You may not do that in this department: ask one of its owners.",
            "last-owner": "This is the department's last owner: make someone else owner first.",
            "too-many-members": (
                f"This department cannot take more members (at most {MAX_MEMBERS}). "
                "Grant a group instead."
            ),
            "sign-in-unavailable": "The sign-in service is not answering. Try again soon.",
        },
        "problem_other": "The request could not be carried out (HTTP {status}).",
        "rules": {
            "required": "This is required.",
            "unknown_field": "The server does not know this field.",
            "wrong_type": "The value has the wrong form.",
            "surrogate": "It holds a broken character. Enter emoji and such again.",
            "too_long": "Use at most {n} characters.",
            "empty": "This cannot be empty.",
            "control": "Line breaks and control characters are not allowed.",
            "invisible": (
                "Invisible characters (zero-width spaces, direction controls) are not allowed."
            ),
            "date": "Enter a real date.",
            "clock": "Write it as a 24-hour time, HH:MM.",
            "too_many": "At most {n} addresses.",
            "email": "That is not an e-mail address.",
            "before_start": "The end date cannot be before the date.",
            "too_many_days": f"The end date must be within {MAX_EVENT_DAYS} days of the date.",
            "needs_start": "There is an end but no start: write the start time too.",
            "not_after_start": "The end must be later than the start ({n}).",
        },
        "fields": {
            "event.event_date": {"label": "Date", "generic": "Check the date."},
            "event.title": {"label": "Title", "generic": "Check the title."},
            "event.time": {"label": "Time", "generic": "Check the time."},
            "event.description": {"label": "Description", "generic": "Check the description."},
            "event.end_date": {"label": "End date", "generic": "Check the end date."},
            "event.end_time": {"label": "End time", "generic": "Check the end time."},
            "event.location": {"label": "Place", "generic": "Check the place."},
            "event.category": {"label": "Category", "generic": "Check the category."},
            "event.recurrence": {"label": "Repeat", "generic": "Check how it repeats."},
            "department.name": {"label": "Name", "generic": "Check the name."},
            "department.description": {
                "label": "Description",
                "generic": "Check the description.",
            },
            "department.notify_emails": {
                "label": "Report e-mails",
                "generic": "Check the e-mail addresses.",
            },
            "department.visibility": {"label": "Visibility", "generic": "Check who may see it."},
        },
        "field_generic": "Check the value entered.",
    },
}


def script_data(language: str) -> dict[str, Any]:
    """What the page's script receives as JSON: its words, its error messages and the
    years whose public holidays the API knows."""
    return {
        "text": PAGE_TEXT[language],
        "holiday_years": [FIRST_YEAR, LAST_YEAR],
        "messages": {**MESSAGES[language], "field_rules": [list(r) for r in FIELD_RULES]},
    }
