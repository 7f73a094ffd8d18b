// The department calendar page: FullCalendar over the public API (/api/...).
// Every user text reaches the DOM as text (textContent, new Option, FullCalendar's own
// text rendering), never as HTML. The write token lives in sessionStorage only.
(() => {
  "use strict";

  const T = JSON.parse(document.getElementById("page-text").textContent);
  const LANG = document.documentElement.lang;
  const TOKEN_KEY = "department-calendar.token";
  const VIEWS = { month: "dayGridMonth", week: "timeGridWeek", list: "listMonth" };
  const PAGE_LIMIT = 200;
  const MAX_PAGES = 25;

  const $ = (id) => document.getElementById(id);
  const format = (template, values) =>
    template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));

  // -- dates (wall-clock dates of the calendar, kept as YYYY-MM-DD strings) -----------------

  const pad = (n) => String(n).padStart(2, "0");
  const isoDate = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const addDays = (iso, days) => {
    const [y, m, d] = iso.split("-").map(Number);
    return isoDate(new Date(y, m - 1, d + days));
  };
  const isRealDate = (text) => /^\d{4}-\d{2}-\d{2}$/.test(text) && addDays(text, 0) === text;

  // -- the API ------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, problem) {
      super(problem.detail || problem.title || `HTTP ${status}`);
      this.status = status;
      this.problem = problem;
    }
    get slug() {
      return String(this.problem.type || "").split("/").pop();
    }
  }

  async function readProblem(response) {
    const type = response.headers.get("Content-Type") || "";
    if (!type.includes("json")) return { title: response.statusText };
    try {
      return await response.json();
    } catch {
      return { title: response.statusText };
    }
  }

  // One call to the API. Writes carry the session's token, if any; a 401 asks for one (once
  // per browser session, again only when the server refuses it) and repeats the call.
  async function api(method, path, { body, etag } = {}) {
    const writing = method !== "GET";
    let refused = false;
    for (;;) {
      const headers = { Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (etag) headers["If-Match"] = etag;
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (writing && token) headers.Authorization = `Bearer ${token}`;
      let response;
      try {
        response = await fetch(path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          credentials: "same-origin",
          cache: "no-store",
        });
      } catch {
        throw new ApiError(0, { detail: T.network_error });
      }
      if (response.status === 401 && writing) {
        if (token) {
          sessionStorage.removeItem(TOKEN_KEY);
          refused = true;
        }
        const given = await askForToken(refused);
        if (!given) throw new ApiError(401, { detail: T.token_needed });
        sessionStorage.setItem(TOKEN_KEY, given);
        continue;
      }
      if (!response.ok) throw new ApiError(response.status, await readProblem(response));
      return {
        status: response.status,
        etag: response.headers.get("ETag"),
        body: response.status === 204 ? null : await response.json(),
      };
    }
  }

  async function listAll(path, params) {
    const items = [];
    let cursor = null;
    let pages = 0;
    do {
      const query = new URLSearchParams(params);
      query.set("limit", String(PAGE_LIMIT));
      if (cursor) query.set("cursor", cursor);
      const { body } = await api("GET", `${path}?${query}`);
      items.push(...body.items);
      cursor = body.next_cursor;
      pages += 1;
    } while (cursor && pages < MAX_PAGES);
    if (cursor) showStatus(T.more_pages, true);
    return items;
  }

  const departmentPath = (id) => `/api/departments/${encodeURIComponent(id)}`;
  const eventsPath = (departmentId) => `/api/events/${encodeURIComponent(departmentId)}`;
  const eventPath = (record) =>
    `${eventsPath(record.department_id)}/${encodeURIComponent(record.id)}`;
  const versionTag = (record) => `"${record.version}"`;

  // -- status line and form errors ------------------------------------------------------------

  function showStatus(message, isError = false) {
    const status = $("status");
    status.textContent = message;
    status.classList.toggle("error", isError);
  }

  function clearErrors(form) {
    for (const el of form.querySelectorAll("[data-error-for]")) {
      el.textContent = "";
      el.hidden = true;
    }
    for (const input of form.querySelectorAll("[aria-invalid]")) {
      input.removeAttribute("aria-invalid");
    }
  }

  // problem+json in words: each errors[] entry next to the field it names, the rest on top.
  function showErrors(form, error, extraFields = {}) {
    clearErrors(form);
    const general = form.querySelector('[data-error-for=""]');
    const targets = [...form.querySelectorAll("[data-error-for]")];
    const fieldErrors = [...(error.problem?.errors || [])];
    if (extraFields[error.slug]) {
      fieldErrors.push({ field: extraFields[error.slug], message: error.message });
    }
    let unplaced = fieldErrors.length === 0;
    for (const { field, message } of fieldErrors) {
      const target = targets.find((el) => el.dataset.errorFor.split(" ").includes(field));
      if (!target || target === general) {
        unplaced = true;
        appendLine(general, `${field}: ${message}`);
        continue;
      }
      appendLine(target, message);
      const input = form.querySelector(`[aria-describedby~="${target.id}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    }
    if (unplaced && !extraFields[error.slug]) appendLine(general, error.message);
    const firstInvalid = form.querySelector('[aria-invalid="true"]');
    if (firstInvalid) firstInvalid.focus();
  }

  function appendLine(el, text) {
    el.textContent = el.textContent ? `${el.textContent} ${text}` : text;
    el.hidden = false;
  }

  // -- dialogs --------------------------------------------------------------------------------

  for (const button of document.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close("cancel"));
  }

  function askForToken(refused) {
    const dialog = $("token-dialog");
    const form = $("token-form");
    const input = $("token-input");
    const problem = $("token-error");
    input.value = "";
    problem.textContent = refused ? T.token_rejected : "";
    problem.hidden = !refused;
    return new Promise((resolve) => {
      const onSubmit = (event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        dialog.close("ok");
      };
      form.addEventListener("submit", onSubmit);
      dialog.addEventListener(
        "close",
        () => {
          form.removeEventListener("submit", onSubmit);
          const token = dialog.returnValue === "ok" ? input.value.trim() : "";
          input.value = "";
          resolve(token || null);
        },
        { once: true },
      );
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  // -- departments ----------------------------------------------------------------------------

  const state = { departments: [], department: null, q: "" };

  async function loadDepartments() {
    state.departments = await listAll("/api/departments", {});
    const select = $("department");
    select.replaceChildren(...state.departments.map((d) => new Option(d.name, d.id)));
    const none = state.departments.length === 0;
    select.disabled = none;
    for (const id of ["rename-department", "add-event", "subscribe"]) $(id).disabled = none;
    if (none) showStatus(T.no_departments);
  }

  function selectDepartment(id) {
    state.department =
      state.departments.find((d) => d.id === id) || state.departments[0] || null;
    $("department").value = state.department ? state.department.id : "";
    document.title = state.department
      ? `${state.department.name} · ${T.app_title}`
      : T.app_title;
  }

  let departmentEditing = null;

  function openDepartmentDialog(department) {
    departmentEditing = department;
    const form = $("department-form");
    clearErrors(form);
    $("department-conflict").hidden = true;
    $("department-dialog-title").textContent = department
      ? T.department_dialog_rename
      : T.department_dialog_new;
    $("department-name").value = department ? department.name : "";
    $("department-description").value = department?.description || "";
    $("department-dialog").showModal();
    $("department-name").focus();
  }

  async function saveDepartment(event) {
    event.preventDefault();
    const form = $("department-form");
    const body = { name: $("department-name").value.trim() };
    const description = $("department-description").value;
    if (description || departmentEditing?.description) body.description = description || null;
    try {
      const { body: saved } = departmentEditing
        ? await api("PATCH", departmentPath(departmentEditing.id), {
            body,
            etag: versionTag(departmentEditing),
          })
        : await api("POST", "/api/departments", { body });
      $("department-dialog").close("ok");
      await loadDepartments();
      selectDepartment(saved.id);
      syncUrl(false);
      calendar.refetchEvents();
      showStatus(
        format(departmentEditing ? T.department_renamed : T.department_created, {
          name: saved.name,
        }),
      );
    } catch (error) {
      if (error.status === 412) {
        $("department-conflict").hidden = false;
        $("department-reload").focus();
        return;
      }
      showErrors(form, error, { "name-taken": "name" });
    }
  }

  async function reloadDepartment() {
    try {
      const { body } = await api("GET", departmentPath(departmentEditing.id));
      await loadDepartments();
      selectDepartment(body.id);
      openDepartmentDialog(body);
      showStatus(T.reloaded);
    } catch (error) {
      showErrors($("department-form"), error);
    }
  }

  // -- events ---------------------------------------------------------------------------------

  // An API event as FullCalendar's: all-day without a start time, timed with one; a multi-day
  // event ends (exclusively) the day after its end_date.
  function toCalendarEvent(record) {
    const last = record.end_date || record.event_date;
    const shown = { id: record.id, title: record.title, extendedProps: { record } };
    if (!record.start_time) {
      return { ...shown, allDay: true, start: record.event_date, end: addDays(last, 1) };
    }
    let end;
    if (record.end_time) end = `${last}T${record.end_time}`;
    else if (record.end_date) end = `${addDays(last, 1)}T00:00`;
    return { ...shown, allDay: false, start: `${record.event_date}T${record.start_time}`, end };
  }

  function describeTime(record) {
    if (!record.time && !record.start_time) return "";
    if (!record.start_time) return T.parsed_none;
    const time = record.end_time ? `${record.start_time}–${record.end_time}` : record.start_time;
    return format(T.parsed_time, { time });
  }

  let fetchGeneration = 0;
  let firstRenderMarked = false;

  function fetchEvents(info, success, failure) {
    if (!state.department) {
      success([]);
      return;
    }
    const params = { from: isoDate(info.start), to: addDays(isoDate(info.end), -1) };
    if (state.q) params.q = state.q;
    const q = state.q;
    listAll(eventsPath(state.department.id), params).then(
      (items) => {
        fetchGeneration += 1;
        success(items.map(toCalendarEvent));
        if (q) showStatus(format(T.search_results, { q, count: items.length }));
        else if ($("status").classList.contains("error")) showStatus("");
      },
      (error) => {
        failure(error);
        showStatus(format(T.load_failed, { detail: error.message }), true);
      },
    );
  }

  function eventContent(arg) {
    const record = arg.event.extendedProps.record;
    const nodes = [];
    const span = (className, text) => {
      const el = document.createElement("span");
      el.className = className;
      el.textContent = text;
      nodes.push(el);
    };
    if (arg.timeText && !arg.view.type.startsWith("list")) span("fc-event-time", arg.timeText);
    span("fc-event-title", arg.event.title);
    if (record.location) span("event-location", record.location);
    return { domNodes: nodes };
  }

  function eventDidMount(info) {
    const record = info.event.extendedProps.record;
    const parts = [record.title];
    if (record.start_time) {
      parts.unshift(record.end_time ? `${record.start_time}–${record.end_time}` : record.start_time);
    }
    if (record.location) parts.push(record.location);
    info.el.title = parts.join(" · ");
  }

  let editing = null; // { record } while the event dialog edits an existing event

  function fillEventForm(values) {
    $("event-title").value = values.title || "";
    $("event-date").value = values.event_date || "";
    $("event-end-date").value = values.end_date || "";
    $("event-time").value = values.time || "";
    $("event-location").value = values.location || "";
    $("event-description").value = values.description || "";
    const parsed = editing ? describeTime(editing.record) : "";
    const output = $("event-parsed-time");
    output.textContent = parsed;
    output.hidden = !parsed;
  }

  function openEventDialog(record, defaults = {}) {
    editing = record ? { record } : null;
    const form = $("event-form");
    clearErrors(form);
    $("event-conflict").hidden = true;
    $("event-dialog-title").textContent = record ? T.event_dialog_edit : T.event_dialog_new;
    $("event-delete").hidden = !record;
    fillEventForm(record || defaults);
    $("event-dialog").showModal();
    $("event-title").focus();
  }

  function eventBody() {
    const record = editing?.record;
    const value = (id) => $(id).value.trim();
    const body = { title: value("event-title"), event_date: $("event-date").value };
    // Optional fields go out when filled, or as null to clear what the event had; left out
    // otherwise, so a server without them (API v1) still accepts the event.
    const optional = {
      time: value("event-time"),
      description: $("event-description").value,
      end_date: $("event-end-date").value,
      location: value("event-location"),
    };
    for (const [name, text] of Object.entries(optional)) {
      if (text) body[name] = text;
      else if (record && record[name]) body[name] = null;
    }
    return body;
  }

  async function saveEvent(event) {
    event.preventDefault();
    const form = $("event-form");
    const body = eventBody();
    clearErrors(form);
    const missing = [];
    if (!body.title) missing.push({ field: "title", message: $("event-title").validationMessage });
    if (!isRealDate(body.event_date)) {
      missing.push({ field: "event_date", message: $("event-date").validationMessage });
    }
    if (missing.length) {
      showErrors(form, new ApiError(422, { errors: missing }));
      return;
    }
    try {
      const { body: saved } = editing
        ? await api("PATCH", eventPath(editing.record), {
            body,
            etag: versionTag(editing.record),
          })
        : await api("POST", eventsPath(state.department.id), { body });
      const message = editing ? T.event_saved : T.event_created;
      $("event-dialog").close("ok");
      showStatus(format(message, { title: saved.title, time: describeTime(saved) }).trim());
      calendar.refetchEvents();
    } catch (error) {
      handleEventError(error);
    }
  }

  async function deleteEvent() {
    const record = editing.record;
    if (!window.confirm(format(T.confirm_delete, { title: record.title }))) return;
    try {
      await api("DELETE", eventPath(record), { etag: versionTag(record) });
      $("event-dialog").close("ok");
      showStatus(format(T.event_deleted, { title: record.title }));
      calendar.refetchEvents();
    } catch (error) {
      handleEventError(error);
    }
  }

  function handleEventError(error) {
    if (error.status === 412) {
      $("event-conflict").hidden = false;
      $("event-reload").focus();
    } else if (error.status === 404 && editing) {
      $("event-dialog").close("gone");
      showStatus(T.gone, true);
      calendar.refetchEvents();
    } else {
      showErrors($("event-form"), error);
    }
  }

  async function reloadEvent() {
    try {
      const { body } = await api("GET", eventPath(editing.record));
      editing = { record: body };
      clearErrors($("event-form"));
      fillEventForm(body);
      $("event-conflict").hidden = true;
      showStatus(T.reloaded);
      $("event-title").focus();
      calendar.refetchEvents();
    } catch (error) {
      handleEventError(error);
    }
  }

  function newEventDefaults() {
    const view = calendar.view;
    const today = new Date();
    const inView = today >= view.currentStart && today < view.currentEnd;
    return { event_date: isoDate(inView ? today : view.currentStart) };
  }

  // -- the address bar follows the calendar ---------------------------------------------------

  function readUrl() {
    const params = new URLSearchParams(window.location.search);
    const view = VIEWS[params.get("view")] ? params.get("view") : "month";
    let date = null;
    const month = params.get("month") || "";
    if (/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) date = `${month}-01`;
    const day = params.get("date") || "";
    if (isRealDate(day)) date = day;
    return { department: params.get("department"), view, date, q: params.get("q") || "" };
  }

  const viewKey = (type) => Object.keys(VIEWS).find((key) => VIEWS[key] === type) || "month";

  function currentUrl() {
    const params = new URLSearchParams();
    if (state.department) params.set("department", state.department.id);
    const view = viewKey(calendar.view.type);
    const start = isoDate(calendar.view.currentStart);
    if (view === "week") params.set("date", start);
    else params.set("month", start.slice(0, 7));
    if (view !== "month") params.set("view", view);
    if (state.q) params.set("q", state.q);
    return `${window.location.pathname}?${params}`;
  }

  let restoring = false; // while the calendar is being put back to a URL (back button)

  function syncUrl(replace) {
    const url = currentUrl();
    if (url === window.location.pathname + window.location.search) return;
    if (replace || restoring) window.history.replaceState(null, "", url);
    else window.history.pushState(null, "", url);
  }

  function applyUrl() {
    const wanted = readUrl();
    restoring = true;
    const departmentChanged = wanted.department !== state.department?.id;
    const qChanged = wanted.q !== state.q;
    state.q = wanted.q;
    $("q").value = wanted.q;
    selectDepartment(wanted.department);
    calendar.changeView(VIEWS[wanted.view], wanted.date || new Date());
    if (departmentChanged || qChanged) calendar.refetchEvents();
    window.setTimeout(() => {
      restoring = false;
    }, 0);
  }

  // -- start ----------------------------------------------------------------------------------

  let calendar;

  async function start() {
    const initial = readUrl();
    state.q = initial.q;
    $("q").value = initial.q;
    try {
      await loadDepartments();
    } catch (error) {
      showStatus(format(T.load_failed, { detail: error.message }), true);
    }
    selectDepartment(initial.department);
    // Built only now: FullCalendar fetches its events as soon as it exists.
    const calendarEl = $("calendar");
    const time24 = { hour: "2-digit", minute: "2-digit", hour12: false };
    calendar = new FullCalendar.Calendar(calendarEl, {
      locale: LANG === "ko" ? "ko" : "en",
      initialView: VIEWS[initial.view],
      initialDate: initial.date || undefined,
      headerToolbar: {
        left: "prev,next today",
        center: "title",
        right: "dayGridMonth,timeGridWeek,listMonth",
      },
      height: "auto",
      dayMaxEvents: true,
      eventDisplay: "block",
      displayEventEnd: true,
      eventTimeFormat: time24,
      slotLabelFormat: time24,
      eventInteractive: true,
      nowIndicator: true,
      events: fetchEvents,
      eventContent,
      eventDidMount,
      eventsSet: () => {
        calendarEl.dataset.loaded = String(fetchGeneration);
        if (fetchGeneration > 0 && !firstRenderMarked) {
          firstRenderMarked = true;
          performance.mark("calendar-rendered");
        }
      },
      dateClick: (info) => {
        const date = info.dateStr.slice(0, 10);
        const time = info.allDay ? "" : info.dateStr.slice(11, 16);
        openEventDialog(null, { event_date: date, time });
      },
      eventClick: (info) => {
        info.jsEvent.preventDefault();
        openEventDialog(info.event.extendedProps.record);
      },
      datesSet: () => syncUrl(false),
    });

    calendar.render();
    syncUrl(true);

    $("department").addEventListener("change", (event) => {
      selectDepartment(event.target.value);
      syncUrl(false);
      calendar.refetchEvents();
    });
    $("new-department").addEventListener("click", () => openDepartmentDialog(null));
    $("rename-department").addEventListener("click", () => {
      if (state.department) openDepartmentDialog(state.department);
    });
    $("department-form").addEventListener("submit", saveDepartment);
    $("department-reload").addEventListener("click", reloadDepartment);
    $("add-event").addEventListener("click", () => openEventDialog(null, newEventDefaults()));
    $("event-form").addEventListener("submit", saveEvent);
    $("event-delete").addEventListener("click", deleteEvent);
    $("event-reload").addEventListener("click", reloadEvent);
    $("search").addEventListener("submit", (event) => {
      event.preventDefault();
      state.q = $("q").value.trim();
      syncUrl(false);
      if (!state.q) showStatus("");
      calendar.refetchEvents();
    });
    $("q").addEventListener("search", () => {
      if (!$("q").value && state.q) $("search").requestSubmit();
    });
    $("subscribe").addEventListener("click", subscribe);
    $("subscribe-copy").addEventListener("click", copySubscription);
    window.addEventListener("popstate", applyUrl);
  }

  // -- subscribe ------------------------------------------------------------------------------

  async function copySubscription() {
    const input = $("subscribe-url");
    input.focus();
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      $("subscribe-status").textContent = T.subscribe_copied;
    } catch {
      $("subscribe-status").textContent = T.subscribe_copy_by_hand;
    }
  }

  function subscribe() {
    if (!state.department) return;
    const url = new URL(`${departmentPath(state.department.id)}/calendar.ics`, window.location.href);
    $("subscribe-url").value = url.href;
    $("subscribe-status").textContent = "";
    $("subscribe-dialog").showModal();
    copySubscription();
  }

  start();
})();
