// The department calendar page: FullCalendar over the public API (/api/...).
// Every user text reaches the DOM as text (textContent, new Option, FullCalendar's own
// text rendering), never as HTML. The write token lives in sessionStorage only, as does the
// signed-in person when the server signs people in with the company's provider.
(() => {
  "use strict";

  const DATA = JSON.parse(document.getElementById("page-text").textContent);
  const T = DATA.text;
  const M = DATA.messages; // error messages by problem type, field and rule (page_text.py)
  const LANG = document.documentElement.lang;
  const TOKEN_KEY = "department-calendar.token";
  // The last department shown in this browser: opened when a link names none. Only its id.
  const DEPARTMENT_KEY = "department-calendar.department";
  // Phones: the list view by default, and the month's events without their times.
  const NARROW = window.matchMedia("(max-width: 40rem)");
  const VIEWS = { month: "dayGridMonth", week: "timeGridWeek", list: "listMonth" };
  const PAGE_LIMIT = 200;
  const MAX_PAGES = 25;
  // Sign-in with the company's OpenID provider (page.py's `sign_in`: issuer, client_id,
  // scopes), or null: the server has service tokens only (the token prompt), or nothing.
  const SIGN_IN = DATA.sign_in || null;
  const ROLES = { reader: 1, writer: 2, owner: 3 };
  // `expired`: the server refused the sign-in this page had (it says so until the next one).
  const account = { manager: null, user: null, expired: false };

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

  // An error the page made itself, already in the page's language (no server, no token).
  const localError = (status, text, errors) =>
    new ApiError(status, { detail: text, errors, localized: true });

  // -- errors in the page's words (never the API's English detail) -------------------------

  const RULES = M.field_rules.map(([kind, pattern]) => [kind, new RegExp(pattern)]);

  // The problem as a whole, by its type; {name} and the like come from `context`.
  function problemText(error, context = {}) {
    if (error.problem.localized) return error.message;
    const text = Object.hasOwn(M.problems, error.slug) ? M.problems[error.slug] : M.problem_other;
    return format(text, { status: error.status, ...context });
  }

  // One errors[] entry: by the kind of rule its message names, else by its field.
  function fieldText(resource, field, message) {
    for (const [kind, pattern] of RULES) {
      const found = pattern.exec(message || "");
      if (found) return format(M.rules[kind], { n: found[1] ?? "" });
    }
    const known = M.fields[`${resource}.${String(field).replace(/\[\d+\]$/, "")}`];
    return known ? known.generic : M.field_generic;
  }

  const fieldLabel = (resource, field) =>
    M.fields[`${resource}.${String(field).replace(/\[\d+\]$/, "")}`]?.label || field;

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
  // `raw`: a body sent as it is ({ data, type }), such as an iCalendar file to import.
  async function api(method, path, { body, raw, etag, cached = false } = {}) {
    const writing = method !== "GET";
    let refused = false;
    for (;;) {
      const headers = { Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (raw) headers["Content-Type"] = raw.type;
      if (etag) headers["If-Match"] = etag;
      const token = SIGN_IN ? null : sessionStorage.getItem(TOKEN_KEY);
      if (writing && token) headers.Authorization = `Bearer ${token}`;
      // Signed in: every call carries the ID token, reads too (with sign-in on, only public
      // departments are read without it). The ID token rather than the access token: its
      // audience is this page's client id, which the server accepts as one of its audiences
      // (OIDC_CLIENT_ID), while an access token is made for whatever the provider chooses
      // (often its own userinfo endpoint), and some providers make it opaque.
      const idToken = signedInToken();
      if (idToken) headers.Authorization = `Bearer ${idToken}`;
      let response;
      try {
        response = await fetch(path, {
          method,
          headers,
          body: raw ? raw.data : body === undefined ? undefined : JSON.stringify(body),
          credentials: "same-origin",
          // Only answers the server says may be kept (the holidays) come from the cache.
          cache: cached ? "default" : "no-store",
        });
      } catch {
        throw localError(0, T.network_error);
      }
      if (response.status === 401 && SIGN_IN) {
        // The sign-in has expired: the "Sign in" button shows again. A read is asked again
        // without the token (public departments still show); a write says to sign in.
        const expired = Boolean(account.user);
        await signedOut();
        if (expired) showStatus(T.sign_in_expired, true, { keep: true });
        if (expired && !writing) continue;
        throw localError(401, signInWanted());
      }
      if (response.status === 401 && writing) {
        if (token) {
          sessionStorage.removeItem(TOKEN_KEY);
          refused = true;
        }
        const given = await askForToken(refused);
        if (!given) throw localError(401, T.token_needed);
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

  // A message that reports what the person just did (saved, created) outlives the fetch that
  // follows it, which would otherwise replace it with the search's count.
  let statusKept = false;

  function showStatus(message, isError = false, { keep = false } = {}) {
    const status = $("status");
    status.textContent = message;
    status.classList.toggle("error", isError);
    statusKept = keep;
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

  // problem+json in the page's words: each errors[] entry next to the field it names, the
  // rest on top. `resource` ("event", "department") picks the fields' words; `context`
  // fills the problem's message ({name}).
  function showErrors(form, error, { resource, extraFields = {}, context = {} } = {}) {
    clearErrors(form);
    const general = form.querySelector('[data-error-for=""]');
    const targets = [...form.querySelectorAll("[data-error-for]")];
    const local = Boolean(error.problem.localized);
    const fieldErrors = (error.problem?.errors || []).map(({ field, message }) => ({
      field,
      text: local ? message : fieldText(resource, field, message),
    }));
    if (extraFields[error.slug]) {
      fieldErrors.push({ field: extraFields[error.slug], text: problemText(error, context) });
    }
    let unplaced = fieldErrors.length === 0;
    for (const { field, text } of fieldErrors) {
      const names = [field, String(field).replace(/\[\d+\]$/, "")];
      const target = targets.find((el) =>
        el.dataset.errorFor.split(" ").some((name) => names.includes(name)),
      );
      if (!target || target === general) {
        unplaced = true;
        appendLine(general, `${fieldLabel(resource, field)}: ${text}`);
        continue;
      }
      appendLine(target, text);
      const input = form.querySelector(`[aria-describedby~="${target.id}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    }
    if (unplaced && !extraFields[error.slug]) appendLine(general, problemText(error, context));
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

  // `missing`: the id a link named that no department has; kept in the address, never
  // swapped silently for another department.
  // `overlays`: the other departments shown with it, by id, in the order chosen.
  const state = {
    departments: [],
    department: null,
    missing: null,
    q: "",
    overlays: [],
    feedKeys: new Map(), // department id -> its secret feed key, once read (signed in)
  };

  async function loadDepartments() {
    state.departments = await listAll("/api/departments", {}); // ordered by name
    const select = $("department");
    select.replaceChildren(...state.departments.map((d) => new Option(d.name, d.id)));
    const none = state.departments.length === 0;
    select.disabled = none;
    if (none) showStatus(SIGN_IN && !account.user ? signInWanted() : T.no_departments);
  }

  function remembered() {
    try {
      return localStorage.getItem(DEPARTMENT_KEY);
    } catch {
      return null; // storage switched off: the first department by name
    }
  }

  // The department `id` names; with no id, the one last shown here, or the first by name.
  function selectDepartment(id) {
    const find = (wanted) => state.departments.find((d) => d.id === wanted) || null;
    state.missing = null;
    if (id) {
      state.department = find(id);
      // Signed out, a department may be missing only until the person signs in: kept too.
      if (!state.department && (state.departments.length || SIGN_IN)) state.missing = id;
    } else {
      state.department = find(remembered()) || state.departments[0] || null;
    }
    $("department").value = state.department ? state.department.id : "";
    state.overlays = state.overlays.filter((other) => other !== state.department?.id);
    for (const button of ["rename-department", "add-event", "subscribe", "import", "overlay"]) {
      $(button).disabled = !state.department;
    }
    showRights();
    if (calendar) updateExport();
    loadFeedKey(state.department);
    showLegend();
    document.title = state.department
      ? `${state.department.name} · ${T.app_title}`
      : T.app_title;
    if (state.missing) {
      const anonymous = SIGN_IN && !account.user;
      showStatus(anonymous ? signInWanted() : T.department_not_found, true, { keep: true });
    }
    if (state.department) {
      try {
        localStorage.setItem(DEPARTMENT_KEY, state.department.id);
      } catch {
        // not kept: the next visit opens the first department by name
      }
    }
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
      const renaming = Boolean(departmentEditing);
      const { body: saved } = renaming
        ? await api("PATCH", departmentPath(departmentEditing.id), {
            body,
            etag: versionTag(departmentEditing),
          })
        : await api("POST", "/api/departments", { body });
      $("department-dialog").close("ok");
      await loadDepartments();
      const changed = saved.id !== state.department?.id;
      selectDepartment(saved.id);
      if (!renaming && state.q) {
        // A new department has nothing to search: the search ends with the switch to it.
        state.q = "";
        $("q").value = "";
      }
      syncUrl(false);
      const message = renaming ? T.department_renamed : T.department_created;
      showStatus(format(message, { name: saved.name }), false, { keep: changed });
      if (changed) calendar.refetchEvents();
    } catch (error) {
      if (error.status === 412) {
        $("department-conflict").hidden = false;
        $("department-reload").focus();
        return;
      }
      showErrors(form, error, {
        resource: "department",
        extraFields: { "name-taken": "name" },
        context: { name: body.name },
      });
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
      showErrors($("department-form"), error, { resource: "department" });
    }
  }

  // -- categories: one colour per category name, the same on every page and every day -------

  // Dark enough for white text (contrast at least 4.5:1) and told apart from each other.
  const CATEGORY_COLOURS = [
    "#0b57d0", // blue
    "#137333", // green
    "#b3261e", // red
    "#8430ce", // purple
    "#b06000", // amber
    "#007b83", // teal
    "#c2185b", // pink
    "#5f6368", // grey
  ];

  // FNV-1a over the name's UTF-16 units: stable, so 회의 has one colour everywhere.
  function categoryColour(name) {
    let hash = 0x811c9dc5;
    for (let i = 0; i < name.length; i += 1) {
      hash ^= name.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return CATEGORY_COLOURS[hash % CATEGORY_COLOURS.length];
  }

  // The categories of each department's events seen on this page, with when each was last
  // written: the event form offers the department's most recent first, then the usual ones.
  const seenCategories = new Map(); // department id -> Map(category -> latest updated_at)
  const MAX_OFFERED = 20;

  function noteCategories(departmentId, items) {
    const seen = seenCategories.get(departmentId) || new Map();
    for (const record of items) {
      if (!record.category) continue;
      const when = seen.get(record.category) || "";
      if (record.updated_at > when) seen.set(record.category, record.updated_at);
    }
    seenCategories.set(departmentId, seen);
  }

  function offerCategories() {
    const seen = state.department ? seenCategories.get(state.department.id) : null;
    const recent = [...(seen || new Map()).entries()]
      .sort((a, b) => (a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0))
      .map(([name]) => name);
    const usual = T.category_suggestions.split(",");
    const offered = [...new Set([...recent, ...usual])].slice(0, MAX_OFFERED);
    $("event-category-options").replaceChildren(...offered.map((name) => new Option(name)));
  }

  // -- events ---------------------------------------------------------------------------------

  // An API event as FullCalendar's: all-day without a start time, timed with one; a multi-day
  // event ends (exclusively) the day after its end_date.
  function toCalendarEvent(record, overlay = null) {
    const last = record.end_date || record.event_date;
    const shown = { id: record.id, title: record.title, extendedProps: { record, rank: 1 } };
    // Dragged only where the person may change events (a writer or owner when signed in).
    shown.editable = mayDo(overlay || state.department, "writer");
    if (overlay) {
      // Another department's: outlined in its colour, so it never looks like one of ours.
      const colour = overlayColour(overlay.id);
      Object.assign(shown, { backgroundColor: "#fff", borderColor: colour, textColor: colour });
      shown.classNames = ["overlay"];
      shown.extendedProps.department = overlay.name;
    } else if (record.category) {
      const colour = categoryColour(record.category);
      Object.assign(shown, { backgroundColor: colour, borderColor: colour, textColor: "#fff" });
    }
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
      fetchGeneration += 1;
      success([]);
      return;
    }
    const params = { from: isoDate(info.start), to: addDays(isoDate(info.end), -1) };
    if (state.q) params.q = state.q;
    const q = state.q;
    // One list a department, side by side: a month of five departments is five requests
    // (one more for each further 200 events a department has in it).
    const shown = [state.department, ...overlayDepartments()];
    const lists = shown.map((department) => listAll(eventsPath(department.id), params));
    Promise.all(lists).then(
      (found) => {
        fetchGeneration += 1;
        noteCategories(shown[0].id, found[0]);
        const events = found.flatMap((items, index) =>
          items.map((record) => toCalendarEvent(record, index ? shown[index] : null)),
        );
        success(events);
        const count = found.reduce((sum, items) => sum + items.length, 0);
        if (statusKept) statusKept = false; // what was just done stays said
        else if (q) showStatus(format(T.search_results, { q, count }));
        else if ($("status").classList.contains("error")) showStatus("");
      },
      (error) => {
        failure(error);
        showStatus(format(T.load_failed, { detail: problemText(error) }), true);
      },
    );
  }

  // -- other departments shown with the chosen one ------------------------------------------

  // Up to four others: five departments at most, so a view reads at most five lists.
  const MAX_OVERLAYS = 4;
  // One colour per place in the choice (not per name), so the shown ones never share one.
  const OVERLAY_COLOURS = ["#8430ce", "#137333", "#b06000", "#c2185b"];

  const overlayDepartments = () =>
    state.overlays.map((id) => state.departments.find((d) => d.id === id)).filter(Boolean);

  const overlayColour = (id) => OVERLAY_COLOURS[Math.max(0, state.overlays.indexOf(id))];

  // Known departments other than the chosen one, each once, at most MAX_OVERLAYS.
  function setOverlays(ids) {
    const known = new Set(state.departments.map((d) => d.id));
    const wanted = ids.filter(
      (id, i) => known.has(id) && id !== state.department?.id && ids.indexOf(id) === i,
    );
    state.overlays = wanted.slice(0, MAX_OVERLAYS);
    showLegend();
  }

  // The departments shown, each with its colour: a filled swatch for the chosen one's events,
  // outlined ones for the others.
  function showLegend() {
    const legend = $("shown-departments");
    const others = overlayDepartments();
    legend.hidden = !state.department || others.length === 0;
    if (legend.hidden) {
      legend.replaceChildren();
      return;
    }
    const item = (department, colour, outlined) => {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = outlined ? "swatch outlined" : "swatch";
      swatch.style.borderColor = colour;
      if (!outlined) swatch.style.backgroundColor = colour;
      li.append(swatch, document.createTextNode(department.name));
      li.dataset.department = department.id;
      return li;
    };
    legend.replaceChildren(
      item(state.department, "#1967d2", false),
      ...others.map((d) => item(d, overlayColour(d.id), true)),
    );
  }

  function openOverlays() {
    if (!state.department) return;
    const choices = $("overlay-choices");
    const boxes = state.departments
      .filter((d) => d.id !== state.department.id)
      .map((department) => {
        const label = document.createElement("label");
        label.className = "choice";
        const box = document.createElement("input");
        box.type = "checkbox";
        box.name = "overlay";
        box.value = department.id;
        box.checked = state.overlays.includes(department.id);
        label.append(box, document.createTextNode(department.name));
        return label;
      });
    choices.replaceChildren(...boxes);
    limitOverlays();
    $("overlay-dialog").showModal();
    (choices.querySelector("input:not(:disabled)") || $("overlay-ok")).focus();
  }

  // Past MAX_OVERLAYS, the unchosen ones are off until one is unchecked.
  function limitOverlays() {
    const boxes = [...$("overlay-choices").querySelectorAll("input")];
    const full = boxes.filter((box) => box.checked).length >= MAX_OVERLAYS;
    for (const box of boxes) box.disabled = full && !box.checked;
  }

  function saveOverlays(event) {
    event.preventDefault();
    const chosen = [...$("overlay-choices").querySelectorAll("input:checked")].map((b) => b.value);
    // The ones kept stay in their place (and colour); new ones follow in the list's order.
    const kept = state.overlays.filter((id) => chosen.includes(id));
    setOverlays([...kept, ...chosen.filter((id) => !kept.includes(id))]);
    $("overlay-dialog").close("ok");
    syncUrl(false);
    calendar.refetchEvents();
  }

  const timeRange = (record) =>
    record.end_time ? `${record.start_time}–${record.end_time}` : record.start_time;

  // The title comes first, so a narrow cell cuts the time, never the title. The month shows
  // the start only (14:00); the week its range; the list has a column of its own for times.
  function eventContent(arg) {
    const record = arg.event.extendedProps.record;
    if (!record) {
      const name = document.createElement("span");
      name.className = "holiday-name";
      name.textContent = arg.event.title;
      return { domNodes: [name] };
    }
    const nodes = [];
    const span = (className, text) => {
      const el = document.createElement("span");
      el.className = className;
      el.textContent = text;
      nodes.push(el);
    };
    span("fc-event-title", arg.event.title);
    if (record.recurring_event_id) {
      span("repeat-mark", "↻");
      const mark = nodes[nodes.length - 1];
      mark.setAttribute("role", "img");
      mark.setAttribute("aria-label", T.repeat_mark);
    }
    if (record.start_time && arg.view.type.startsWith("dayGrid")) {
      span("fc-event-time", record.start_time);
    } else if (arg.timeText && arg.view.type.startsWith("timeGrid")) {
      span("fc-event-time", arg.timeText);
    }
    if (record.location) span("event-location", record.location);
    if (arg.view.type.startsWith("list")) {
      // The list's rows take no focus of their own: a button in each opens its event from
      // the keyboard (its click reaches FullCalendar's eventClick).
      const open = document.createElement("button");
      open.type = "button";
      open.className = "list-event-open";
      open.append(...nodes);
      return { domNodes: [open] };
    }
    return { domNodes: nodes };
  }

  // The whole event as the element's tooltip: title, time range, place, dates.
  function eventDidMount(info) {
    const record = info.event.extendedProps.record;
    if (!record) {
      const { holiday } = info.event.extendedProps;
      // In English, the Korean name too, as people here say it.
      const parts = LANG === "ko" ? [holiday.name] : [holiday.name_en, holiday.name];
      info.el.title = [...parts, T.holiday].join(" · ");
      // Nothing opens from a holiday: no stop for the Tab key.
      info.el.removeAttribute("tabindex");
      return;
    }
    const parts = [record.title];
    const { department } = info.event.extendedProps;
    if (department) parts.unshift(department);
    if (record.start_time) parts.push(timeRange(record));
    if (record.end_date && record.end_date !== record.event_date) {
      parts.push(`${record.event_date} – ${record.end_date}`);
    }
    if (record.location) parts.push(record.location);
    if (record.category) {
      parts.push(record.category);
      info.el.dataset.category = record.category;
    }
    if (record.recurring_event_id) parts.push(T.repeat_mark);
    info.el.title = parts.join(" · ");
  }

  // -- Korean public holidays -----------------------------------------------------------------

  // As Google's Korean holiday calendar shows them: the holiday's name on its day (an
  // all-day entry before the day's events, in every view) and the day's number in red.
  // Each year is asked for once per page (one request per new range of years shown).
  const HOLIDAY_YEARS = DATA.holiday_years; // the years the server knows: [first, last]
  const holidayYears = new Map(); // year -> Promise of that year's holidays
  const holidayDates = new Set(); // YYYY-MM-DD of every holiday received

  function loadHolidays(first, last) {
    const from = Math.max(first, HOLIDAY_YEARS[0]);
    const to = Math.min(last, HOLIDAY_YEARS[1]);
    const missing = [];
    for (let year = from; year <= to; year += 1) if (!holidayYears.has(year)) missing.push(year);
    if (missing.length) {
      const [low, high] = [missing[0], missing[missing.length - 1]];
      const query = new URLSearchParams({ from: String(low), to: String(high) });
      const asked = api("GET", `/api/holidays?${query}`, { cached: true }).then(({ body }) => {
        for (const holiday of body.items) holidayDates.add(holiday.date);
        return body.items;
      });
      for (let year = low; year <= high; year += 1) {
        const own = asked.then((items) => items.filter((h) => h.date.startsWith(`${year}-`)));
        // A failure is forgotten, so that the next view asks again.
        own.catch(() => holidayYears.delete(year));
        holidayYears.set(year, own);
      }
    }
    const years = [];
    for (let year = from; year <= to; year += 1) years.push(holidayYears.get(year));
    return Promise.all(years).then((lists) => lists.flat());
  }

  // An event source: holidays are not the department's, so never open, edit or search them.
  function fetchHolidays(info, success) {
    const last = new Date(info.end.getTime() - 1);
    loadHolidays(info.start.getFullYear(), last.getFullYear()).then(
      (items) => {
        success(
          items.map((holiday) => ({
            id: `holiday-${holiday.date}-${holiday.name}`,
            title: LANG === "ko" ? holiday.name : holiday.name_en,
            start: holiday.date,
            allDay: true,
            interactive: false,
            editable: false,
            classNames: ["holiday"],
            backgroundColor: "#fce8e6",
            borderColor: "#fce8e6",
            textColor: "#a50e0e",
            extendedProps: { holiday, rank: 0 },
          })),
        );
        window.setTimeout(markHolidayDays, 0);
      },
      () => success([]), // the calendar works without them; the next range asks again
    );
  }

  const isHoliday = (date) => holidayDates.has(isoDate(date));

  // Day cells and headers drawn before their year's holidays arrived are marked now; those
  // drawn later are marked as they are drawn (dayCellClassNames, dayHeaderClassNames).
  function markHolidayDays() {
    const days = document.querySelectorAll(
      "#calendar .fc-daygrid-day[data-date], #calendar .fc-col-header-cell[data-date], " +
        "#calendar .fc-list-day[data-date]",
    );
    for (const day of days) day.classList.toggle("holiday", holidayDates.has(day.dataset.date));
  }

  const holidayClass = (arg) => (isHoliday(arg.date) ? ["holiday"] : []);
  // The month's column headers are weekdays, not days.
  const holidayHeaderClass = (arg) => (arg.view.type === "dayGridMonth" ? [] : holidayClass(arg));

  // -- repeating events: the dialog's repeat controls and RFC 5545 RRULE lines ---------------

  const WEEKDAYS = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"];
  const WEEKDAY_NAMES = T.weekday_names.split(",");
  const ORDINALS = T.ordinals.split(","); // first .. fourth, then last
  const FREQS = ["DAILY", "WEEKLY", "MONTHLY", "YEARLY"];

  // A date's place in its month: weekday (0 = Sunday), which one of the month (1..5), and
  // whether it is the month's last such weekday.
  function dayFacts(iso) {
    const [y, m, d] = iso.split("-").map(Number);
    const weekday = new Date(y, m - 1, d).getDay();
    const length = new Date(y, m, 0).getDate();
    return { y, m, d, weekday, nth: Math.ceil(d / 7), last: d + 7 > length };
  }

  // The controls' state while the dialog is open. `lines`: the series's recurrence as read
  // (null for a single or new event); `rule`: its RRULE line; `touched`: the person changed
  // a repeat control (only then does the page write a rule).
  const repeat = { lines: null, rule: null, touched: false, daysTouched: false };

  const repeatDate = () => {
    const value = $("event-date").value;
    return isRealDate(value) ? value : isoDate(new Date());
  };
  const dayBoxes = () => [...document.querySelectorAll('input[name="repeat-day"]')];
  const endChoice = () => document.querySelector('input[name="repeat-end"]:checked').value;
  const setEnd = (value) => {
    for (const radio of document.querySelectorAll('input[name="repeat-end"]')) {
      radio.checked = radio.value === value;
    }
  };

  // What FREQ the controls describe, or null (does not repeat, or the kept rule).
  function chosenFreq() {
    const choice = $("event-repeat").value;
    if (FREQS.includes(choice)) return choice;
    if (choice === "custom") return $("event-repeat-unit").value;
    return null;
  }

  // The options' words follow the event's date: "매주 화요일", "매월 셋째 화요일", ...
  function labelRepeat() {
    const facts = dayFacts(repeatDate());
    const checked = dayBoxes().filter((box) => box.checked);
    const days = (checked.length ? checked : [dayBoxes()[facts.weekday]]).map(
      (box) => WEEKDAY_NAMES[WEEKDAYS.indexOf(box.value)],
    );
    const select = $("event-repeat");
    select.querySelector('option[value="WEEKLY"]').textContent = format(T.repeat_weekly, {
      days: days.join(T.weekday_join),
    });
    const monthDay = new Date(facts.y, facts.m - 1, facts.d).toLocaleDateString(LANG, {
      month: "long",
      day: "numeric",
    });
    select.querySelector('option[value="YEARLY"]').textContent = format(T.repeat_yearly, {
      date: monthDay,
    });
    const by = $("event-repeat-monthly-by");
    const weekday = WEEKDAY_NAMES[facts.weekday];
    const option = (value) => by.querySelector(`option[value="${value}"]`);
    option("day").textContent = format(T.repeat_monthly_day, { day: facts.d });
    option("nth").textContent = format(T.repeat_monthly_nth, {
      nth: ORDINALS[Math.min(facts.nth, 5) - 1],
      weekday,
    });
    option("nth").hidden = facts.nth > 4; // a fifth weekday is the month's last
    option("last").textContent = format(T.repeat_monthly_nth, { nth: ORDINALS[4], weekday });
    option("last").hidden = !facts.last;
    if (by.selectedOptions[0]?.hidden) by.value = "day";
  }

  function showRepeatParts() {
    const choice = $("event-repeat").value;
    const freq = chosenFreq();
    $("event-repeat-every").hidden = choice !== "custom";
    $("event-repeat-end").hidden = choice !== "custom";
    $("event-repeat-days").hidden = freq !== "WEEKLY";
    $("event-repeat-monthly").hidden = freq !== "MONTHLY";
    $("event-repeat-rule").hidden = choice !== "keep";
    $("event-repeat-until").disabled = endChoice() !== "until";
    $("event-repeat-count").disabled = endChoice() !== "count";
    labelRepeat();
  }

  // An RRULE line the controls can show (the parts this page writes), as their state; null
  // for anything else (that rule is kept as it is and shown as text). `start`: the series's
  // first date, which BYMONTHDAY and an ordinal BYDAY must agree with.
  function parseRule(line, start) {
    if (!line || !line.startsWith("RRULE:")) return null;
    const parts = {};
    for (const piece of line.slice(6).split(";")) {
      const [key, value, extra] = piece.split("=");
      if (!value || extra !== undefined || key in parts) return null;
      parts[key] = value;
    }
    const known = ["FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "UNTIL", "COUNT"];
    if (Object.keys(parts).some((key) => !known.includes(key))) return null;
    const freq = parts.FREQ;
    if (!FREQS.includes(freq)) return null;
    const number = (text) => (/^[1-9]\d{0,2}$/.test(text) ? Number(text) : null);
    const interval = parts.INTERVAL === undefined ? 1 : number(parts.INTERVAL);
    if (interval === null) return null;
    let until = null;
    if (parts.UNTIL !== undefined) {
      const found = /^(\d{4})(\d{2})(\d{2})$/.exec(parts.UNTIL);
      if (!found || !isRealDate(`${found[1]}-${found[2]}-${found[3]}`)) return null;
      until = `${found[1]}-${found[2]}-${found[3]}`;
    }
    const count = parts.COUNT === undefined ? null : number(parts.COUNT);
    if (parts.COUNT !== undefined && count === null) return null;
    if (until && count) return null;
    const facts = dayFacts(start);
    const state = {
      freq,
      interval,
      days: [WEEKDAYS[facts.weekday]],
      by: "day",
      end: until ? "until" : count ? "count" : "never",
      until,
      count,
    };
    if (parts.BYDAY !== undefined && parts.BYMONTHDAY !== undefined) return null;
    if (freq === "DAILY" || freq === "YEARLY") {
      if (parts.BYDAY !== undefined || parts.BYMONTHDAY !== undefined) return null;
    } else if (freq === "WEEKLY") {
      if (parts.BYMONTHDAY !== undefined) return null;
      if (parts.BYDAY !== undefined) {
        const days = parts.BYDAY.split(",");
        if (!days.every((day) => WEEKDAYS.includes(day))) return null;
        state.days = WEEKDAYS.filter((day) => days.includes(day));
      }
    } else if (parts.BYMONTHDAY !== undefined) {
      if (Number(parts.BYMONTHDAY) !== facts.d || !/^\d+$/.test(parts.BYMONTHDAY)) return null;
    } else if (parts.BYDAY !== undefined) {
      const found = /^(-1|[1-4])(SU|MO|TU|WE|TH|FR|SA)$/.exec(parts.BYDAY);
      if (!found || found[2] !== WEEKDAYS[facts.weekday]) return null;
      if (found[1] === "-1" ? !facts.last : Number(found[1]) !== facts.nth) return null;
      state.by = found[1] === "-1" ? "last" : "nth";
    }
    state.custom = interval > 1 || state.end !== "never";
    return state;
  }

  // The controls for an event: `lines` is the series's recurrence (null: does not repeat).
  function fillRepeat(lines, start) {
    repeat.lines = lines ? [...lines] : null;
    repeat.rule = lines ? lines.find((line) => line.startsWith("RRULE:")) || null : null;
    repeat.touched = false;
    repeat.daysTouched = false;
    const facts = dayFacts(start || repeatDate());
    const select = $("event-repeat");
    const keep = select.querySelector('option[value="keep"]');
    const parsed = lines ? parseRule(repeat.rule, start) : null;
    const state = parsed || { freq: null, interval: 1, days: [WEEKDAYS[facts.weekday]] };
    keep.hidden = !lines || Boolean(parsed);
    if (!lines) select.value = "none";
    else if (!parsed) select.value = "keep";
    else select.value = parsed.custom ? "custom" : parsed.freq;
    $("event-repeat-unit").value = state.freq || "WEEKLY";
    $("event-repeat-interval").value = String(state.interval || 1);
    for (const box of dayBoxes()) box.checked = state.days.includes(box.value);
    $("event-repeat-monthly-by").value = state.by || "day";
    setEnd(state.end || "never");
    $("event-repeat-until").value = state.until || "";
    $("event-repeat-count").value = String(state.count || 10);
    const text = $("event-repeat-rule");
    text.textContent = lines && !parsed ? format(T.repeat_rule, { rule: lines.join(" ") }) : "";
    showRepeatParts();
  }

  // The RRULE line the controls describe: null for "does not repeat", undefined for the
  // rule kept as it is. Problems come back as errors[] entries for the repeat field.
  function ruleFromControls() {
    const choice = $("event-repeat").value;
    if (choice === "keep") return { line: undefined };
    const freq = chosenFreq();
    if (!freq) return { line: null };
    const facts = dayFacts(repeatDate());
    const parts = [`FREQ=${freq}`];
    const problems = [];
    const custom = choice === "custom";
    const whole = (id) => {
      const text = $(id).value.trim();
      if (/^[1-9]\d{0,2}$/.test(text)) return Number(text);
      problems.push({ field: "recurrence", message: T.repeat_need_number });
      return null;
    };
    if (custom) {
      const interval = whole("event-repeat-interval");
      if (interval > 1) parts.push(`INTERVAL=${interval}`);
    }
    if (freq === "WEEKLY") {
      const days = dayBoxes()
        .filter((box) => box.checked)
        .map((box) => box.value);
      if (!days.length) problems.push({ field: "recurrence", message: T.repeat_need_day });
      parts.push(`BYDAY=${days.join(",")}`);
    } else if (freq === "MONTHLY") {
      const by = $("event-repeat-monthly-by").value;
      if (by === "day") parts.push(`BYMONTHDAY=${facts.d}`);
      else parts.push(`BYDAY=${by === "last" ? -1 : facts.nth}${WEEKDAYS[facts.weekday]}`);
    }
    if (custom && endChoice() === "until") {
      const until = $("event-repeat-until").value;
      if (!isRealDate(until) || until < repeatDate()) {
        problems.push({ field: "recurrence", message: T.repeat_need_until });
      } else {
        parts.push(`UNTIL=${until.replaceAll("-", "")}`);
      }
    } else if (custom && endChoice() === "count") {
      const count = whole("event-repeat-count");
      if (count) parts.push(`COUNT=${count}`);
    }
    return { line: `RRULE:${parts.join(";")}`, problems };
  }

  // The recurrence to send, or undefined to leave it as it is: only when the person
  // changed the controls. A series's other lines (EXDATE, RDATE) are kept; only its RRULE
  // line is replaced.
  function recurrenceChange() {
    if (!repeat.touched) return { changed: false };
    const { line, problems = [] } = ruleFromControls();
    if (problems.length) return { changed: false, problems };
    if (line === undefined || sameRule(line, repeat.rule)) return { changed: false };
    if (line === null) return { changed: Boolean(repeat.lines), value: null };
    return { changed: true, value: withRule(repeat.lines, line) };
  }

  // The same rule written with its parts in another order.
  const sameRule = (a, b) => {
    const parts = (line) => (line ? line.split(/[:;]/).sort().join(";") : line);
    return parts(a) === parts(b);
  };

  function withRule(lines, line) {
    const others = (lines || []).filter((l) => !l.startsWith("RRULE:"));
    return [line, ...others];
  }

  function repeatTouched(event) {
    repeat.touched = true;
    if (event?.target?.name === "repeat-day") repeat.daysTouched = true;
    showRepeatParts();
  }

  // The event's date moved: the words follow it, and so does the default weekday.
  function repeatDateChanged() {
    if (!repeat.daysTouched && !repeat.lines) {
      const weekday = WEEKDAYS[dayFacts(repeatDate()).weekday];
      for (const box of dayBoxes()) box.checked = box.value === weekday;
    }
    showRepeatParts();
  }

  // "이 일정 / 이 일정 및 향후 일정 / 모든 일정": which occurrences a change or a delete of
  // an instance is for. Resolves to "this", "following", "all", or null (cancelled).
  function askScope(action, { allowThis = true } = {}) {
    const dialog = $("scope-dialog");
    const form = $("scope-form");
    $("scope-dialog-title").textContent =
      action === "delete" ? T.scope_title_delete : T.scope_title_save;
    $("scope-legend").textContent = $("scope-dialog-title").textContent;
    $("scope-this").disabled = !allowThis;
    $("scope-this").closest("label").classList.toggle("disabled", !allowThis);
    $("scope-note").hidden = allowThis;
    const first = allowThis ? $("scope-this") : $("scope-following");
    first.checked = true;
    return new Promise((resolve) => {
      const onSubmit = (event) => {
        event.preventDefault();
        dialog.close(form.elements.scope.value);
      };
      form.addEventListener("submit", onSubmit);
      dialog.addEventListener(
        "close",
        () => {
          form.removeEventListener("submit", onSubmit);
          const chosen = dialog.returnValue;
          resolve(["this", "following", "all"].includes(chosen) ? chosen : null);
        },
        { once: true },
      );
      dialog.returnValue = "";
      dialog.showModal();
      first.focus();
    });
  }

  const withScope = (path, scope) => (scope === "this" ? path : `${path}?scope=${scope}`);

  // { record, series } while the event dialog edits an existing event (series: the series
  // an instance belongs to, or the series itself); after a 412, also { latest, action }:
  // the version saved now and what the person was doing (save, delete). `scope` and
  // `lastScope`: the occurrences an instance's change is for, asked once per attempt.
  let editing = null;
  const FORM_FIELDS = [
    "title",
    "event_date",
    "end_date",
    "time",
    "location",
    "category",
    "description",
  ];

  function fillEventForm(values) {
    $("event-title").value = values.title || "";
    $("event-date").value = values.event_date || "";
    $("event-end-date").value = values.end_date || "";
    $("event-time").value = values.time || "";
    $("event-location").value = values.location || "";
    $("event-category").value = values.category || "";
    $("event-description").value = values.description || "";
    const parsed = editing ? describeTime(editing.record) : "";
    const output = $("event-parsed-time");
    output.textContent = parsed;
    output.hidden = !parsed;
  }

  const seriesPath = (record) =>
    `${eventsPath(record.department_id)}/${encodeURIComponent(record.recurring_event_id)}`;

  // An event with its series when it is an instance (whose rule the repeat controls show)
  // or a series itself. An instance is read now (with its series); an event as listed,
  // unless `reread`.
  async function readWithSeries(record, { reread = false } = {}) {
    if (!record.recurring_event_id) {
      if (reread) ({ body: record } = await api("GET", eventPath(record)));
      return { record, series: record.recurrence ? record : null };
    }
    const [instance, series] = await Promise.all([
      api("GET", eventPath(record)),
      api("GET", seriesPath(record)),
    ]);
    return { record: instance.body, series: series.body };
  }

  function fillRepeatFor(series) {
    fillRepeat(series ? series.recurrence : null, series ? series.event_date : undefined);
  }

  async function openEventDialog(record, defaults = {}) {
    let series = null;
    if (record) {
      try {
        ({ record, series } = await readWithSeries(record));
      } catch (error) {
        showStatus(error.status === 404 ? T.gone : problemText(error), true);
        if (error.status === 404) calendar.refetchEvents();
        return;
      }
    }
    editing = record ? { record, series } : null;
    const form = $("event-form");
    const department = record ? departmentOf(record) : state.department;
    const readOnly = !mayDo(department, "writer");
    clearErrors(form);
    hideConflict();
    showReadOnly(false);
    const title = record ? T.event_dialog_edit : T.event_dialog_new;
    $("event-dialog-title").textContent = readOnly ? T.event_dialog_view : title;
    $("event-delete").hidden = !record;
    fillEventForm(record || defaults);
    offerCategories();
    fillRepeatFor(series);
    if (readOnly) showReadOnly(true);
    $("event-dialog").showModal();
    (readOnly ? $("event-dialog").querySelector("[data-close]") : $("event-title")).focus();
  }

  const departmentOf = (record) =>
    state.departments.find((d) => d.id === record.department_id) || null;

  // A reader sees the event in the dialog, every field shown but none editable, and no
  // save or delete. Only the fields this turned off are turned on again.
  function showReadOnly(readOnly) {
    const form = $("event-form");
    for (const field of form.querySelectorAll("input, select, textarea")) {
      if (readOnly && !field.disabled) {
        field.disabled = true;
        field.dataset.readOnly = "";
      } else if (!readOnly && "readOnly" in field.dataset) {
        field.disabled = false;
        delete field.dataset.readOnly;
      }
    }
    $("event-save").hidden = readOnly;
    if (readOnly) $("event-delete").hidden = true;
    $("event-read-only").hidden = !readOnly;
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
      category: value("event-category"),
    };
    for (const [name, text] of Object.entries(optional)) {
      if (text) body[name] = text;
      else if (record && record[name]) body[name] = null;
    }
    return body;
  }

  async function saveEvent(event) {
    event?.preventDefault();
    if (!$("event-read-only").hidden) return;
    const form = $("event-form");
    const body = eventBody();
    clearErrors(form);
    const missing = [];
    if (!body.title) missing.push({ field: "title", message: M.rules.required });
    if (!isRealDate(body.event_date)) {
      missing.push({ field: "event_date", message: M.rules.date });
    }
    const recurrence = recurrenceChange();
    if (recurrence.problems) missing.push(...recurrence.problems);
    if (missing.length) {
      showErrors(form, localError(422, M.problems["validation-error"], missing));
      return;
    }
    try {
      const saved = await writeEvent(body, recurrence);
      if (!saved) return; // the scope question was cancelled: the dialog stays open
      const message = editing ? T.event_saved : T.event_created;
      $("event-dialog").close("ok");
      const said = format(message, { title: saved.title, time: describeTime(saved) }).trim();
      showStatus(said, false, { keep: true });
      calendar.refetchEvents();
    } catch (error) {
      handleEventError(error, "save");
    }
  }

  // The fields of `body` that differ from `record` (what the person changed in the form).
  function editedFields(body, record) {
    const changes = {};
    for (const name of FORM_FIELDS) {
      if (name in body && !sameValue(body[name], record[name])) changes[name] = body[name];
    }
    return changes;
  }

  const daysBetween = (from, to) => {
    const utc = (iso) => Date.UTC(...iso.split("-").map((n, i) => Number(n) - (i === 1 ? 1 : 0)));
    return Math.round((utc(to) - utc(from)) / 86400000);
  };

  // An instance's changes as changes of its whole series: a date moved by n days moves the
  // series's start by n days; the other fields are the series's as they are.
  function forSeries(changes, body, record, series) {
    const whole = { ...changes };
    delete whole.event_date;
    delete whole.end_date;
    const shift = daysBetween(record.event_date, body.event_date);
    const start = addDays(series.event_date, shift);
    if (shift) whole.event_date = start;
    if (shift || "end_date" in changes) {
      if (body.end_date) whole.end_date = addDays(start, daysBetween(body.event_date, body.end_date));
      else if (series.end_date) whole.end_date = null;
    }
    return whole;
  }

  // The scope of an instance's change or delete: the one chosen before a 412 when the person
  // applies their change again, else asked now (null: they cancelled).
  async function scopeFor(action, options) {
    const scope = editing.scope || (await askScope(action, options));
    editing.scope = null;
    editing.lastScope = scope;
    return scope;
  }

  // Sends the dialog's event: a create, a change of an event or series, or of an instance
  // for the occurrences the person chooses. The saved event, or null when they cancelled.
  async function writeEvent(body, recurrence) {
    const record = editing?.record;
    if (!record) {
      if (recurrence.changed && recurrence.value) body.recurrence = recurrence.value;
      return (await api("POST", eventsPath(state.department.id), { body })).body;
    }
    const etag = versionTag(record);
    if (!record.recurring_event_id) {
      if (recurrence.changed) body.recurrence = recurrence.value;
      return (await api("PATCH", eventPath(record), { body, etag })).body;
    }
    // A new rule is for a series: this occurrence alone cannot take one.
    const scope = await scopeFor("save", { allowThis: !recurrence.changed });
    if (!scope) return null;
    if (scope === "this") return (await api("PATCH", eventPath(record), { body, etag })).body;
    const changes = editedFields(body, record);
    if (scope === "all") {
      const whole = forSeries(changes, body, record, editing.series);
      if (recurrence.changed) whole.recurrence = recurrence.value;
      const path = withScope(eventPath(record), "all");
      return (await api("PATCH", path, { body: whole, etag })).body;
    }
    // This and following: the series that starts here takes the new rule, if any (with
    // the series's EXDATEs), in the same request that splits the series.
    if (recurrence.changed) {
      changes.recurrence =
        recurrence.value && withRule(editing.series?.recurrence, recurrence.value[0]);
    }
    const path = withScope(eventPath(record), "following");
    return (await api("PATCH", path, { body: changes, etag })).body;
  }

  async function deleteEvent() {
    const record = editing.record;
    let path = eventPath(record);
    if (record.recurring_event_id) {
      const scope = await scopeFor("delete");
      if (!scope) return;
      path = withScope(path, scope);
    } else if (!window.confirm(format(T.confirm_delete, { title: record.title }))) {
      return;
    }
    try {
      await api("DELETE", path, { etag: versionTag(record) });
      $("event-dialog").close("ok");
      showStatus(format(T.event_deleted, { title: record.title }), false, { keep: true });
      calendar.refetchEvents();
    } catch (error) {
      handleEventError(error, "delete");
    }
  }

  function handleEventError(error, action) {
    if (error.status === 412 && editing) {
      showConflict(action);
    } else if (error.status === 404 && editing) {
      $("event-dialog").close("gone");
      showStatus(T.gone, true);
      calendar.refetchEvents();
    } else {
      showErrors($("event-form"), error, { resource: "event" });
    }
  }

  // -- someone else changed the event meanwhile (412) ------------------------------------------

  function hideConflict() {
    $("event-conflict").hidden = true;
    $("event-conflict-diff").hidden = true;
    $("event-conflict-same").hidden = true;
    $("event-conflict-rows").replaceChildren();
    if (editing) delete editing.latest;
  }

  const sameValue = (a, b) => String(a ?? "").trim() === String(b ?? "").trim();

  // The person's change beside the version saved now; what they typed stays in the form.
  // They can apply their change again over the new version, or load the saved one. For a
  // save, "their change" is the fields they edited; for a delete, the form against the new
  // version (what would be deleted).
  async function showConflict(action) {
    const form = $("event-form");
    const entered = Object.fromEntries(FORM_FIELDS.map((name) => [name, form.elements[name].value]));
    let latest;
    try {
      ({ body: latest } = await api("GET", eventPath(editing.record)));
    } catch (error) {
      handleEventError(error, action);
      return;
    }
    const original = editing.record;
    const edited = FORM_FIELDS.filter((name) => !sameValue(entered[name], original[name]));
    editing = { ...editing, latest, action, edited };
    const shown = (value) => (sameValue(value, "") ? T.empty_value : value);
    const compared = action === "delete" ? FORM_FIELDS : edited;
    const rows = [];
    for (const name of compared) {
      const mine = shown(entered[name]);
      const theirs = shown(latest[name]);
      if (sameValue(mine, theirs)) continue;
      const row = document.createElement("tr");
      row.dataset.field = name;
      for (const [tag, text] of [
        ["th", fieldLabel("event", name)],
        ["td", mine],
        ["td", theirs],
      ]) {
        const cell = document.createElement(tag);
        cell.textContent = text;
        row.append(cell);
      }
      rows.push(row);
    }
    $("event-conflict-rows").replaceChildren(...rows);
    $("event-conflict-diff").hidden = rows.length === 0;
    $("event-conflict-same").hidden = rows.length !== 0;
    $("event-conflict").hidden = false;
    $("event-reapply").focus();
  }

  // The person's edits over the version saved now (its other fields as saved), sent with
  // If-Match naming that version.
  function reapplyEvent() {
    if (!editing?.latest) return;
    const { action, latest, edited } = editing;
    const form = $("event-form");
    for (const name of FORM_FIELDS) {
      if (!edited.includes(name)) form.elements[name].value = latest[name] ?? "";
    }
    editing = { record: latest, series: editing.series, scope: editing.lastScope };
    hideConflict();
    if (action === "delete") deleteEvent();
    else saveEvent();
  }

  async function reloadEvent() {
    try {
      const { record, series } = await readWithSeries(editing.record, { reread: true });
      editing = { record, series };
      clearErrors($("event-form"));
      fillEventForm(record);
      fillRepeatFor(series);
      hideConflict();
      showStatus(T.reloaded);
      $("event-title").focus();
      calendar.refetchEvents();
    } catch (error) {
      handleEventError(error, "save");
    }
  }

  function newEventDefaults() {
    const view = calendar.view;
    const today = new Date();
    const inView = today >= view.currentStart && today < view.currentEnd;
    return { event_date: isoDate(inView ? today : view.currentStart) };
  }

  // -- drag and drop: a move or a resize is a PATCH with If-Match ----------------------------

  const clock = (date) => `${pad(date.getHours())}:${pad(date.getMinutes())}`;

  // What a move or resize changes, in the API's fields. A move by whole days only shifts the
  // dates and leaves `time` as it was written ("오후 3시" stays); a new time of day is
  // written as a range ("14:00~15:30") with its end_time; the all-day row drops the time.
  function droppedChanges(info, record) {
    const moved = info.event;
    const start = isoDate(moved.start);
    const changes = { event_date: start };
    const wasAllDay = info.oldEvent.allDay;
    const sameClock = !moved.allDay && !wasAllDay && clock(moved.start) === clock(info.oldEvent.start);
    if (moved.allDay || (sameClock && !info.endDelta)) {
      if (moved.allDay && !wasAllDay) changes.time = null;
      if (moved.allDay && moved.end) {
        // FullCalendar's end of an all-day event is the day after its last.
        const last = addDays(isoDate(moved.end), -1);
        if (last > start) changes.end_date = last;
        else if (record.end_date) changes.end_date = null;
      } else if (record.end_date) {
        changes.end_date = addDays(record.end_date, daysBetween(record.event_date, start));
      }
      return changes;
    }
    const begins = clock(moved.start);
    if (!moved.end || (!record.end_time && !info.endDelta && wasAllDay === moved.allDay)) {
      changes.time = begins;
      if (record.end_time) changes.end_time = null;
      if (record.end_date) changes.end_date = null;
      return changes;
    }
    // An end at midnight is the end of the day before.
    const end = moved.end.getHours() || moved.end.getMinutes() ? moved.end : new Date(moved.end - 60000);
    const [last, ends] = [isoDate(end), clock(end)];
    changes.time = `${begins}~${ends}`;
    changes.end_time = ends;
    if (last > start) changes.end_date = last;
    else if (record.end_date) changes.end_date = null;
    return changes;
  }

  function describeMove(record, changes) {
    const last = "end_date" in changes ? changes.end_date : record.end_date;
    const time = "time" in changes ? changes.time : record.time;
    const dates = last && last !== changes.event_date ? `${changes.event_date} – ${last}` : changes.event_date;
    return time ? `${dates} ${time}` : dates;
  }

  // An instance moves alone: its own id, If-Match its series's version (its ETag).
  async function dropEvent(info) {
    const record = info.event.extendedProps.record;
    if (!record) {
      info.revert();
      return;
    }
    const changes = droppedChanges(info, record);
    try {
      await api("PATCH", eventPath(record), { body: changes, etag: versionTag(record) });
      const when = describeMove(record, changes);
      showStatus(format(T.event_moved, { title: record.title, when }), false, { keep: true });
      calendar.refetchEvents();
    } catch (error) {
      info.revert();
      if (error.status === 412) {
        await conflictFromDrop(record, changes);
      } else if (error.status === 404) {
        showStatus(T.gone, true, { keep: true });
        calendar.refetchEvents();
      } else {
        const fields = (error.problem?.errors || []).map(({ field, message }) =>
          error.problem.localized ? message : fieldText("event", field, message),
        );
        const detail = [problemText(error), ...fields].join(" ");
        showStatus(format(T.move_failed, { title: record.title, detail }), true);
      }
    }
  }

  // Someone changed the event meanwhile: the event dialog opens with the dragged dates and
  // times in its form, beside the version saved now, as after any 412; "apply my change
  // again" moves it over that version (an instance alone, as the drag did).
  async function conflictFromDrop(record, changes) {
    let series = null;
    if (record.recurring_event_id) {
      try {
        ({ body: series } = await api("GET", seriesPath(record)));
      } catch {
        series = null; // the comparison still shows; the repeat controls say "does not repeat"
      }
    }
    editing = { record, series, lastScope: record.recurring_event_id ? "this" : undefined };
    clearErrors($("event-form"));
    hideConflict();
    $("event-dialog-title").textContent = T.event_dialog_edit;
    $("event-delete").hidden = false;
    fillEventForm({ ...record, ...changes });
    offerCategories();
    fillRepeatFor(series);
    $("event-dialog").showModal();
    await showConflict("save");
  }

  // -- import an iCalendar file: a dry run first, then the import once confirmed ------------

  let importFile = null;

  function openImport() {
    if (!state.department) return;
    const form = $("import-form");
    form.reset();
    clearErrors(form);
    importFile = null;
    $("import-report").hidden = true;
    $("import-preview").hidden = false;
    $("import-confirm").hidden = true;
    $("import-close").textContent = T.cancel;
    $("import-dialog").showModal();
    $("import-file").focus();
  }

  function showImportReport(result, dryRun) {
    for (const name of ["created", "updated", "unchanged", "deleted"]) {
      $("import-counts").querySelector(`[data-count="${name}"] dd`).textContent = String(result[name]);
    }
    const rejected = result.rejected || [];
    $("import-counts").querySelector('[data-count="rejected"] dd').textContent = String(rejected.length);
    const rows = rejected.map(({ uid, line, reason }) => {
      const row = document.createElement("tr");
      for (const text of [uid ?? "", line ?? "", reason ?? ""]) {
        const cell = document.createElement("td");
        cell.textContent = String(text);
        row.append(cell);
      }
      // The reason is the API's own (it names iCalendar properties and rules), in English.
      row.lastChild.lang = "en";
      return row;
    });
    $("import-rejected-rows").replaceChildren(...rows);
    $("import-rejected").hidden = rows.length === 0;
    const changes = result.created + result.updated + result.deleted;
    let summary = T.import_done;
    if (dryRun) summary = changes ? T.import_previewed : T.import_nothing;
    $("import-summary").textContent = summary;
    $("import-report").hidden = false;
    $("import-confirm").hidden = !dryRun || changes === 0;
    $("import-preview").hidden = !dryRun;
    $("import-close").textContent = dryRun ? T.cancel : T.close;
  }

  async function runImport(dryRun) {
    const form = $("import-form");
    clearErrors(form);
    const file = dryRun ? $("import-file").files[0] : importFile;
    if (!file) {
      showErrors(form, localError(422, T.import_need_file, []), { resource: "import" });
      return;
    }
    const path = `${eventsPath(state.department.id)}/import${dryRun ? "?dry_run=true" : ""}`;
    try {
      const { body: result } = await api("POST", path, {
        raw: { data: file, type: "text/calendar" },
      });
      importFile = dryRun ? file : null;
      showImportReport(result, dryRun);
      const next = $("import-confirm").hidden ? $("import-close") : $("import-confirm");
      next.focus();
      if (!dryRun) {
        const counts = { name: file.name, ...result, rejected: result.rejected.length };
        showStatus(format(T.import_status, counts), false, { keep: true });
        calendar.refetchEvents();
      }
    } catch (error) {
      showErrors(form, error, { resource: "import" });
    }
  }

  // -- export: the department's feed for the dates shown, as a file -------------------------

  function updateExport() {
    const link = $("export");
    if (!state.department) {
      link.removeAttribute("href");
      link.setAttribute("aria-disabled", "true");
      return;
    }
    const from = isoDate(calendar.view.activeStart);
    const to = addDays(isoDate(calendar.view.activeEnd), -1);
    const query = new URLSearchParams({ from, to });
    // Signed in, a download cannot carry the ID token: it goes through the department's
    // secret feed address (read once per department, below), when the page has it.
    const key = state.feedKeys.get(state.department.id);
    if (key) query.set("key", key);
    link.href = `${departmentPath(state.department.id)}/calendar.ics?${query}`;
    link.download = `${state.department.name}-${from}-${to}.ics`;
    link.title = format(T.export_label, { from, to });
    link.removeAttribute("aria-disabled");
  }

  // -- the address bar follows the calendar ---------------------------------------------------

  function readUrl() {
    const params = new URLSearchParams(window.location.search);
    const fallback = NARROW.matches ? "list" : "month";
    const view = VIEWS[params.get("view")] ? params.get("view") : fallback;
    let date = null;
    const month = params.get("month") || "";
    if (/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) date = `${month}-01`;
    const day = params.get("date") || "";
    if (isRealDate(day)) date = day;
    const overlays = (params.get("with") || "").split(",").filter(Boolean);
    return { department: params.get("department"), view, date, q: params.get("q") || "", overlays };
  }

  const viewKey = (type) => Object.keys(VIEWS).find((key) => VIEWS[key] === type) || "month";

  function currentUrl() {
    const params = new URLSearchParams();
    const department = state.department?.id || state.missing;
    if (department) params.set("department", department);
    if (state.overlays.length) params.set("with", state.overlays.join(","));
    const view = viewKey(calendar.view.type);
    const start = isoDate(calendar.view.currentStart);
    if (view === "week") params.set("date", start);
    else params.set("month", start.slice(0, 7));
    // A phone opens links without a view in the list: its month links say "month".
    if (view !== "month" || NARROW.matches) params.set("view", view);
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
    const departmentChanged = wanted.department !== (state.department?.id || state.missing);
    const qChanged = wanted.q !== state.q;
    state.q = wanted.q;
    $("q").value = wanted.q;
    selectDepartment(wanted.department);
    const overlaysBefore = state.overlays.join(",");
    setOverlays(wanted.overlays);
    const overlaysChanged = state.overlays.join(",") !== overlaysBefore;
    calendar.changeView(VIEWS[wanted.view], wanted.date || new Date());
    if (departmentChanged || qChanged || overlaysChanged) calendar.refetchEvents();
    window.setTimeout(() => {
      restoring = false;
    }, 0);
  }

  // -- start ----------------------------------------------------------------------------------

  let calendar;
  // FullCalendar's height is the calendar's, not a view's: it follows the view shown.
  const heightFor = (type) => (type === "dayGridMonth" ? null : "auto");

  async function start() {
    // Signed in (or back from the provider) before the first read, which carries the token.
    if (SIGN_IN) await startSignIn();
    const initial = readUrl();
    state.q = initial.q;
    $("q").value = initial.q;
    try {
      await loadDepartments();
    } catch (error) {
      showStatus(format(T.load_failed, { detail: problemText(error) }), true);
    }
    selectDepartment(initial.department);
    setOverlays(initial.overlays);
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
      // The month keeps its shape (a busy day shows "+N more", it does not stretch the
      // month); taller on a phone. The week and the list take the height they need.
      aspectRatio: NARROW.matches ? 0.75 : 1.6,
      height: heightFor(VIEWS[initial.view]),
      dayMaxEvents: true,
      moreLinkText: (n) => format(T.more_link, { n }),
      // FullCalendar's "+N" is a link without an address that opens a popover: a button,
      // which may then say whether its popover is open (aria-expanded).
      moreLinkDidMount: (arg) => arg.el.setAttribute("role", "button"),
      eventDisplay: "block",
      displayEventEnd: true,
      eventTimeFormat: time24,
      slotLabelFormat: time24,
      eventInteractive: true,
      // Move and resize by dragging (month and week); the list has nothing to drag.
      editable: true,
      eventDrop: dropEvent,
      eventResize: dropEvent,
      nowIndicator: true,
      // The day's holidays first, then FullCalendar's own order.
      eventOrder: "rank,start,-duration,allDay,title",
      eventSources: [
        { id: "events", events: fetchEvents },
        { id: "holidays", events: fetchHolidays },
      ],
      dayCellClassNames: holidayClass,
      // A day cell named by its number alone hides its events from a screen reader's
      // name of the cell; the number link keeps its full date.
      dayCellDidMount: (arg) => arg.el.removeAttribute("aria-labelledby"),
      // FullCalendar's blue (#3788d8) is too light for white text (3.7:1); this is 5.6:1.
      eventColor: "#1967d2",
      dayHeaderClassNames: holidayHeaderClass,
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
        if (!mayDo(state.department, "writer")) return;
        const date = info.dateStr.slice(0, 10);
        const time = info.allDay ? "" : info.dateStr.slice(11, 16);
        openEventDialog(null, { event_date: date, time });
      },
      eventClick: (info) => {
        info.jsEvent.preventDefault();
        if (!info.event.extendedProps.record) return; // a holiday
        openEventDialog(info.event.extendedProps.record);
      },
      datesSet: () => {
        const height = heightFor(calendar.view.type);
        if (calendar.getOption("height") !== height) calendar.setOption("height", height);
        if (document.activeElement !== $("go-to-date")) {
          $("go-to-date").value = isoDate(calendar.getDate());
        }
        // The arrows are drawings inside buttons that have their own names.
        for (const icon of calendarEl.querySelectorAll(".fc-icon[role=img]")) {
          icon.setAttribute("aria-hidden", "true");
        }
        updateExport();
        syncUrl(false);
      },
    });

    calendar.render();
    syncUrl(true);

    $("department").addEventListener("change", (event) => {
      if (state.missing) showStatus("");
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
    $("event-reapply").addEventListener("click", reapplyEvent);
    const repeatField = document.querySelector("#event-form .repeat");
    repeatField.addEventListener("change", repeatTouched);
    repeatField.addEventListener("input", repeatTouched);
    $("event-date").addEventListener("change", repeatDateChanged);
    $("go-to-date").addEventListener("change", (event) => {
      const wanted = event.target.value;
      // A date being typed passes through years like 0002: only plausible ones are followed.
      if (isRealDate(wanted) && wanted >= "1900" && wanted < "2200") calendar.gotoDate(wanted);
    });
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
    $("import").addEventListener("click", openImport);
    $("overlay").addEventListener("click", openOverlays);
    $("overlay-form").addEventListener("submit", saveOverlays);
    $("overlay-choices").addEventListener("change", limitOverlays);
    $("import-form").addEventListener("submit", (event) => {
      event.preventDefault();
      runImport(true);
    });
    $("import-confirm").addEventListener("click", () => runImport(false));
    $("import-file").addEventListener("change", () => {
      // Another file: its own dry run first.
      importFile = null;
      $("import-report").hidden = true;
      $("import-confirm").hidden = true;
      $("import-preview").hidden = false;
      $("import-close").textContent = T.cancel;
    });
    window.addEventListener("popstate", applyUrl);
    if (SIGN_IN) {
      $("sign-in").addEventListener("click", signIn);
      $("sign-out").addEventListener("click", signOut);
    }
  }

  // -- signing in with the company's provider (OIDC_ISSUER, OIDC_CLIENT_ID) -----------------

  // The page's own address, without its query: where the provider sends the person back
  // after signing in and after signing out (registered with the provider for this client).
  const PAGE_URL = new URL(window.location.pathname, window.location.origin).href;

  // What the person may do in `department`, by its access_role; without sign-in the server
  // decides alone (a token prompt, or nothing asked). The server refuses what this hides
  // either way: hiding it only spares the person a refusal.
  const mayDo = (department, role) =>
    !SIGN_IN || (ROLES[department?.access_role] || 0) >= ROLES[role];

  function showRights() {
    if (!SIGN_IN) return;
    const department = state.department;
    // Any signed-in person may create a department (and becomes its owner).
    $("new-department").hidden = !account.user;
    $("rename-department").hidden = !mayDo(department, "owner");
    $("add-event").hidden = !mayDo(department, "writer");
    $("import").hidden = !mayDo(department, "writer");
  }

  function showAccount() {
    const user = account.user;
    const profile = user ? user.profile : {};
    const name = profile.name || profile.email || profile.sub || "";
    const who = $("signed-in-as");
    who.textContent = user ? format(T.signed_in_as, { name }) : "";
    who.title = profile.email || "";
    who.hidden = !user;
    $("sign-in").hidden = Boolean(user);
    $("sign-out").hidden = !user;
    showRights();
  }

  const signInWanted = () => (account.expired ? T.sign_in_expired : T.sign_in_needed);

  const signedInToken = () =>
    account.user && !account.user.expired ? account.user.id_token : null;

  // The server refused the token (expired, or signed out elsewhere): the page shows the
  // "Sign in" button again; what the person was doing stays on the page.
  async function signedOut() {
    if (!account.user) return;
    account.user = null;
    account.expired = true;
    state.feedKeys.clear();
    try {
      await account.manager.removeUser();
    } catch {
      // nothing stored to remove
    }
    showAccount();
  }

  // Authorisation code with PKCE (S256, oidc-client-ts's default for response_type code),
  // as a public client: no secret. No silent renew: an expired sign-in signs in again.
  function signInManager() {
    return new oidc.UserManager({
      authority: SIGN_IN.issuer,
      client_id: SIGN_IN.client_id,
      redirect_uri: PAGE_URL,
      post_logout_redirect_uri: PAGE_URL,
      response_type: "code",
      scope: SIGN_IN.scopes,
      // The signed-in person lasts as long as the tab, as the service token does.
      userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
      automaticSilentRenew: false,
      monitorSession: false,
      loadUserInfo: false, // the ID token carries the name and e-mail shown
    });
  }

  // The provider sends the person back with ?code=&state= (signed in), ?error=&state=
  // (not), or ?state= alone (signed out): each is finished here and the address cleaned.
  async function startSignIn() {
    if (typeof oidc === "undefined") {
      showStatus(T.sign_in_failed, true, { keep: true });
      $("sign-in").hidden = true;
      return;
    }
    account.manager = signInManager();
    const params = new URLSearchParams(window.location.search);
    try {
      if (params.has("state") && (params.has("code") || params.has("error"))) {
        account.user = await account.manager.signinRedirectCallback();
        // Back where the person chose to sign in: the department, dates and view shown.
        const back = String(account.user.state?.back || "");
        window.history.replaceState(null, "", back.startsWith("/") ? back : PAGE_URL);
      } else if (params.has("state")) {
        await account.manager.signoutRedirectCallback();
        window.history.replaceState(null, "", PAGE_URL);
      } else {
        account.user = await account.manager.getUser();
      }
    } catch {
      account.user = null;
      window.history.replaceState(null, "", PAGE_URL);
      showStatus(T.sign_in_failed, true, { keep: true });
    }
    if (account.user?.expired) await signedOut();
    showAccount();
  }

  function signIn() {
    const back = window.location.pathname + window.location.search;
    account.manager.signinRedirect({ state: { back } }).catch(() => {
      showStatus(T.sign_in_failed, true);
    });
  }

  function signOut() {
    const hint = account.user?.id_token;
    account.manager.signoutRedirect({ id_token_hint: hint }).catch(async () => {
      // The provider cannot be reached: signed out of this page at least.
      await signedOut();
      account.expired = false;
      calendar.refetchEvents();
    });
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

  // Signed in, calendar apps (and downloads) read the feed by the department's secret
  // address, as Google Calendar's "secret address in iCal format": every reader may see it.
  async function loadFeedKey(department) {
    if (!SIGN_IN || !signedInToken() || !department || state.feedKeys.has(department.id)) {
      return;
    }
    try {
      const answer = await api("GET", `${departmentPath(department.id)}/feed-key`);
      state.feedKeys.set(department.id, answer.body.key);
    } catch {
      return; // not signed in after all, or no right: the plain address is shown
    }
    if (state.department?.id === department.id && calendar) updateExport();
  }

  async function subscribe() {
    if (!state.department) return;
    await loadFeedKey(state.department);
    const url = new URL(`${departmentPath(state.department.id)}/calendar.ics`, window.location.href);
    const key = state.feedKeys.get(state.department.id);
    if (key) url.searchParams.set("key", key);
    $("subscribe-url").value = url.href;
    $("subscribe-status").textContent = "";
    $("subscribe-dialog").showModal();
    copySubscription();
  }

  start();
})();
