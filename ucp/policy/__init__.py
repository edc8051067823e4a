"""What an identity may do, how often, and the record of what it did.

``rules`` decides visibility and calls per identity (roles, tenants, globs,
read-only, argument limits); ``limits`` holds the token buckets; ``audit`` is the
append-only log. The session layer's ``Guard`` applies all three on the one
session-facing path (``ucp.session.guard``).
"""
