"""Who is calling and what they may do: callers, roles per department, OpenID Connect.

``rights`` holds the rules (roles, visibility, members, what each route needs) as plain
data and functions; ``oidc`` checks a company sign-in's bearer token against its
provider's published keys. Neither knows Flask or DynamoDB: ``api.security`` applies them
to each request, and ``storage.departments`` keeps each department's members.
"""
