"""Domain services: plain typed functions holding all rules.

They take the actor and `now` as arguments, never touch the request, `flush()` but never commit,
and raise errors from `competition.services.errors`.
"""
