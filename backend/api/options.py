"""The Allow header of OPTIONS answers, naming the methods of the matched route only.

A route is one path pattern; its methods may be served by several views (list and create).

Flask's automatic answer lists the methods of every rule the path matches, so
``/api/events/<id>/import`` (POST) also advertised GET, PATCH and DELETE of
``/api/events/<id>/<event_id>``, which would treat ``import`` as an event id.
"""

from __future__ import annotations

from flask import Flask, Response, request


def install(app: Flask) -> None:
    @app.after_request
    def allow_of_the_matched_route(response: Response) -> Response:
        matched = request.url_rule
        if request.method == "OPTIONS" and matched is not None and "Allow" in response.headers:
            methods = {"OPTIONS"}
            for rule in app.url_map.iter_rules():
                if rule.rule == matched.rule:  # the same route, served by several views
                    methods |= set(rule.methods or ())
            response.headers["Allow"] = ", ".join(sorted(methods))
        return response
