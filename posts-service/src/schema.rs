//! Diesel table definitions; the same on both backends (see `migrations/`).

diesel::table! {
    authors (id) {
        id -> BigInt,
        email -> Text,
        created_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    posts (id) {
        id -> BigInt,
        title -> Text,
        title_search -> Text,
        content -> Text,
        published -> Bool,
        created_at -> Timestamp,
        owner_id -> BigInt,
    }
}

diesel::table! {
    votes (post_id, user_id) {
        post_id -> BigInt,
        user_id -> BigInt,
    }
}

diesel::joinable!(posts -> authors (owner_id));
diesel::joinable!(votes -> posts (post_id));

diesel::allow_tables_to_appear_in_same_query!(authors, posts, votes);
