-- Email keys are folded NFKC, then lower case (they were lower case only). Only an address
-- with a character outside ASCII can fold differently; this index finds those accounts at
-- once, and the service recomputes their keys in Rust (where the folding rule lives) right
-- after migrating, on every start, so keys stored under an older rule keep working.
CREATE INDEX users_non_ascii_email ON users (id)
    WHERE length(CAST(email AS BLOB)) <> length(email);
