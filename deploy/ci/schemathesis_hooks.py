"""Schemathesis hooks for both services (loaded by deploy/ci/schemathesis).

Posts: a list cursor (`GET /posts/?cursor=`) is a position the server tags with the search it was
made for, so that an altered or foreign one is refused with 422. No schema can tell a valid
cursor from a forged one of the same shape: every cursor schemathesis makes up is invalid.
So the cases meant to be valid leave `cursor` out (the paging tests cover real cursors); the
cases meant to be invalid keep whatever they generate, and the server must refuse them.

Auth: a new password is 8 characters to 72 bytes in UTF-8 (bcrypt's limit) without NUL. JSON Schema
counts characters, not bytes, so the document names the rule with the format
`bcrypt-password`; this strategy generates exactly the passwords it allows. Longer ones (by
character count) are still generated as invalid data through `maxLength`.
"""

import schemathesis
from hypothesis import strategies as st

_ANY = st.characters(codec="utf-8", exclude_characters="\x00")
_ASCII = st.characters(codec="ascii", exclude_characters="\x00")

schemathesis.openapi.format(
    "bcrypt-password",
    # At most 18 characters always fit in 72 bytes (4 bytes each at most); ASCII ones take 1.
    st.one_of(
        st.text(alphabet=_ANY, min_size=8, max_size=18),
        st.text(alphabet=_ASCII, min_size=8, max_size=72),
    ),
)


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
