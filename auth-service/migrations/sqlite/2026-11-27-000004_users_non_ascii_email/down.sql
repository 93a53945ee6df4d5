DROP INDEX users_non_ascii_email;
