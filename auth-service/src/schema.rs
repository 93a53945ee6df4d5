//! Diesel table definitions; the same on both backends (see `migrations/`).

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        email_key -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        email_skeleton -> Nullable<Text>,
    }
}

diesel::table! {
    login_failures (email_key) {
        email_key -> Text,
        failures -> Integer,
        window_started_at -> Timestamp,
        pending -> Integer,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    rate_limits (bucket) {
        bucket -> Text,
        window_start -> BigInt,
        hits -> Integer,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        access_until -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        rotated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    course_token_refusals (user_id) {
        user_id -> BigInt,
        since -> Timestamp,
    }
}

diesel::table! {
    course_import (id) {
        id -> Integer,
        user_ids_below -> BigInt,
        imported_at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::allow_tables_to_appear_in_same_query!(users, sessions, refresh_tokens);
