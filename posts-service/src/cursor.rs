//! The opaque `cursor` of the list's `Link: <…>; rel="next"`: where the next page starts.
//!
//! The list is ordered by post id, newest first, so a position is the id of the last post a
//! page showed; the next page is the posts below it (a keyset page, whose cost does not grow
//! with its depth, unlike `skip`). Posts created meanwhile have higher ids, so a client paging
//! through never sees a post twice nor misses one that existed when it started.
//!
//! A cursor is `base64url(version ‖ id ‖ tag)`, where the tag is a truncated SHA-256 of the
//! version, the id and the search key it was made for. An edited, truncated or foreign
//! cursor, or one made for another search, fails the check and gets 422. The tag is not a
//! secret-keyed MAC: a cursor grants nothing (every page still shows only what the caller may
//! see), it only names a position, so a client that forges one learns no more than `skip`
//! would tell it. The check exists to turn mistakes into a clear error instead of a page of
//! something else.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

const VERSION: u8 = 1;
const TAG_LEN: usize = 8;
const LEN: usize = 1 + 8 + TAG_LEN;
/// Longest text that could be a cursor; anything longer is refused before decoding.
const MAX_ENCODED_LEN: usize = LEN.div_ceil(3) * 4;

/// Why a cursor was refused (only ever shown as one 422 message).
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidCursor;

fn tag(id: i64, search_key: &str) -> [u8; TAG_LEN] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(b"posts-service list cursor\0");
    ctx.update(&[VERSION]);
    ctx.update(&id.to_be_bytes());
    ctx.update(search_key.as_bytes());
    let digest = ctx.finish();
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(&digest.as_ref()[..TAG_LEN]);
    out
}

/// The cursor of the page after the one ending at post `last_id`, for `search_key` (the
/// lower-cased search, `""` for none).
pub fn encode(last_id: i64, search_key: &str) -> String {
    let mut bytes = [0u8; LEN];
    bytes[0] = VERSION;
    bytes[1..9].copy_from_slice(&last_id.to_be_bytes());
    bytes[9..].copy_from_slice(&tag(last_id, search_key));
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The id a cursor made by [`encode`] for the same `search_key` names: the next page holds
/// the posts with lower ids.
pub fn decode(cursor: &str, search_key: &str) -> Result<i64, InvalidCursor> {
    if cursor.len() > MAX_ENCODED_LEN {
        return Err(InvalidCursor);
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| InvalidCursor)?;
    let bytes: [u8; LEN] = bytes.try_into().map_err(|_| InvalidCursor)?;
    if bytes[0] != VERSION {
        return Err(InvalidCursor);
    }
    let id = i64::from_be_bytes(bytes[1..9].try_into().map_err(|_| InvalidCursor)?);
    // Not a secret: a plain comparison leaks nothing worth a constant-time one.
    if bytes[9..] != tag(id, search_key) {
        return Err(InvalidCursor);
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_for_its_own_search_only() {
        for id in [1, 42, i64::MAX, 0, -5] {
            let cursor = encode(id, "rust");
            assert_eq!(decode(&cursor, "rust"), Ok(id));
            assert_eq!(decode(&cursor, ""), Err(InvalidCursor));
            assert_eq!(decode(&cursor, "rusT"), Err(InvalidCursor));
        }
        let plain = encode(7, "");
        assert_eq!(decode(&plain, ""), Ok(7));
        assert!(plain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn any_edit_of_a_cursor_is_detected() {
        let cursor = encode(123_456, "");
        let mut refused = 0;
        let mut edits = 0;
        for (i, original) in cursor.char_indices() {
            for replacement in ['A', 'z', '0', '-', '_'] {
                if replacement == original {
                    continue;
                }
                let mut edited = cursor.clone();
                edited.replace_range(i..i + 1, &replacement.to_string());
                edits += 1;
                // Includes the last character, whose low bits are padding: the decoder
                // refuses them unless zero, so no edit there goes unnoticed either.
                if decode(&edited, "") != Ok(123_456) {
                    refused += 1;
                }
            }
        }
        assert_eq!(refused, edits);
        for bad in [
            "",
            "x",
            "!!!!",
            &cursor[1..],
            &format!("{cursor}A"),
            &"A".repeat(4000),
        ] {
            assert_eq!(decode(bad, ""), Err(InvalidCursor), "{bad}");
        }
    }
}
