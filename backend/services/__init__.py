"""The rules that span repositories, as plain functions over ``Storage``.

A view parses its request, calls one function here and answers; a job (the migration, the
report) calls the same functions. Nothing here knows Flask or builds a DynamoDB request:
the repositories in ``storage`` build requests, map items and translate errors.

- ``events``: an event's construction from a client's fields, and its create, update and
  delete under the per-date cap and ``If-Match``;
- ``departments``: deleting a department (with its events, in bounded steps) and giving
  departments written by other programs their exact event count;
- ``imports``: reconciling an iCalendar file with a department's calendar;
- ``feed``: which events a department's iCalendar feed holds, at most ``FEED_MAX_EVENTS``;
- ``idempotency``: running a create once per ``Idempotency-Key``;
- ``rules``: the calendar's limits that more than one writer checks (the per-date cap).
"""
