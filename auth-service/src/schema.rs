//! Diesel table definitions; the same on both backends (see `migrations/`).

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        email_key -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (email_key) {
        email_key -> Text,
        failures -> Integer,
        window_started_at -> Timestamp,
        pending -> Integer,
    }
}
