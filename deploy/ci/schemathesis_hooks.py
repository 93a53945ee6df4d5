"""Schemathesis hooks for the posts service (loaded by deploy/ci/schemathesis).

A list cursor (`GET /posts/?cursor=`) is a position the server tags with the search it was
made for, so that an altered or foreign one is refused with 422. No schema can tell a valid
cursor from a forged one of the same shape: every cursor schemathesis makes up is invalid.
So the cases meant to be valid leave `cursor` out (the paging tests cover real cursors); the
cases meant to be invalid keep whatever they generate, and the server must refuse them.
"""

import schemathesis


@schemathesis.hook
def map_case(ctx, case):
    meta = case.meta
    if (
        meta is not None
        and meta.generation.mode.is_positive
        and case.operation.method.upper() == "GET"
        and case.operation.path == "/posts/"
        and case.query
        and "cursor" in case.query
    ):
        case.query = {name: value for name, value in case.query.items() if name != "cursor"}
    return case
