"""Schemathesis hooks for the auth service's OpenAPI document.

Load with `SCHEMATHESIS_HOOKS=hooks` and this folder on `PYTHONPATH`.

A new password is 8 characters to 72 bytes in UTF-8 (bcrypt's limit) without NUL. JSON Schema
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
