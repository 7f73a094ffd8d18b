"""Every word the calendar page shows, in Korean (the default) and English.

The template renders the labels; the script receives the same table as JSON for what it
writes at run time, so a word is translated in one place.
"""

from __future__ import annotations

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
        "location": "장소",
        "description": "설명",
        "save": "저장",
        "delete": "삭제",
        "cancel": "취소",
        "confirm_delete": "'{title}' 일정을 삭제할까요?",
        "event_created": "'{title}' 일정을 추가했습니다. {time}",
        "event_saved": "'{title}' 일정을 저장했습니다. {time}",
        "event_deleted": "'{title}' 일정을 삭제했습니다.",
        "conflict": (
            "그 사이에 다른 사람이 이 일정을 바꿨습니다. 다시 불러와서 확인한 뒤 저장하세요."
        ),
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
        "load_failed": "일정을 불러오지 못했습니다: {detail}",
        "network_error": "서버에 연결하지 못했습니다.",
        "more_pages": "일정이 너무 많아 일부만 보입니다.",
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
        "location": "Place",
        "description": "Description",
        "save": "Save",
        "delete": "Delete",
        "cancel": "Cancel",
        "confirm_delete": "Delete the event '{title}'?",
        "event_created": "Added '{title}'. {time}",
        "event_saved": "Saved '{title}'. {time}",
        "event_deleted": "Deleted '{title}'.",
        "conflict": (
            "Someone else changed this event in the meantime. Reload it, check, then save."
        ),
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
        "load_failed": "Could not load the events: {detail}",
        "network_error": "The server could not be reached.",
        "more_pages": "Too many events: only some are shown.",
    },
}
