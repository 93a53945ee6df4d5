//! PostgreSQL connection strings as libpq reads them: URIs with several `host:port` pairs
//! (`postgres://u@db1:5432,db2:5432/auth?target_session_attrs=read-write`) and keyword/value
//! strings (`host=db1,db2 dbname=auth target_session_attrs=read-write`). The services hand
//! the string to libpq unchanged; this checks it at start, so a typo stops the service with
//! a message naming it instead of a pool that never connects, and finds the keys it sets
//! (the pool adds its timeouts only where the string sets none).

/// Every connection keyword of the libpq the services link (18), plus the URI-only `ssl`.
const KEYWORDS: &[&str] = &[
    "service",
    "user",
    "password",
    "passfile",
    "channel_binding",
    "connect_timeout",
    "dbname",
    "host",
    "hostaddr",
    "port",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslmode",
    "sslnegotiation",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslcertmode",
    "sslpassword",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "require_auth",
    "min_protocol_version",
    "max_protocol_version",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "replication",
    "target_session_attrs",
    "load_balance_hosts",
    "scram_client_key",
    "scram_server_key",
    "oauth_issuer",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
    "sslkeylogfile",
];

/// The values libpq accepts for the keywords that take one of a few.
fn allowed_values(key: &str) -> Option<&'static [&'static str]> {
    Some(match key {
        "target_session_attrs" => &[
            "any",
            "read-write",
            "read-only",
            "primary",
            "standby",
            "prefer-standby",
        ],
        "load_balance_hosts" => &["disable", "random"],
        "sslmode" => &[
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ],
        "gssencmode" => &["disable", "prefer", "require"],
        "channel_binding" => &["disable", "prefer", "require"],
        "sslnegotiation" => &["postgres", "direct"],
        "ssl" => &["true"],
        _ => return None,
    })
}

/// Whether `text` is a keyword/value connection string: it starts with a libpq keyword and
/// `=` (a SQLite file path does not).
pub(super) fn is_keyword_form(text: &str) -> bool {
    let text = text.trim_start();
    let key_len = text
        .bytes()
        .take_while(|b| b.is_ascii_lowercase() || *b == b'_')
        .count();
    key_len > 0
        && KEYWORDS.contains(&&text[..key_len])
        && text[key_len..].trim_start().starts_with('=')
}

/// Checks one setting; the message names it.
fn check_setting(key: &str, value: &str) -> Result<(), String> {
    if key == "ssl" {
        // URI only: `ssl=true` is `sslmode=require`.
    } else if !KEYWORDS.contains(&key) {
        return Err(format!("unknown connection setting `{key}`"));
    }
    if let Some(allowed) = allowed_values(key) {
        if !allowed.contains(&value) {
            return Err(format!(
                "`{key}` must be one of {}, not `{value}`",
                allowed.join(", ")
            ));
        }
    }
    match key {
        "connect_timeout"
        | "keepalives"
        | "keepalives_idle"
        | "keepalives_interval"
        | "keepalives_count"
        | "tcp_user_timeout"
            if value.parse::<u32>().is_err() =>
        {
            return Err(format!("`{key}` must be a whole number, not `{value}`"));
        }
        "port" => {
            for port in value.split(',') {
                check_port(port)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_port(port: &str) -> Result<(), String> {
    match port.parse::<u16>() {
        _ if port.is_empty() => Ok(()),
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("invalid port number `{port}`")),
    }
}

/// Decodes `%XX` escapes; refuses a malformed one.
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("a malformed percent escape in `{text}`"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{text}` does not decode to UTF-8"))
}

/// The parts of a URI after `scheme://`: user info, host list, database and query.
struct UriParts<'a> {
    userinfo: Option<&'a str>,
    hosts: &'a str,
    /// The database, after the `/` (`None` without one).
    path: Option<&'a str>,
    query: Option<&'a str>,
}

fn split_uri(rest: &str) -> UriParts<'_> {
    let (before, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before.find('/') {
        Some(i) => (&before[..i], Some(&before[i + 1..])),
        None => (before, None),
    };
    let (userinfo, hosts) = match authority.find('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    UriParts {
        userinfo,
        hosts,
        path,
        query,
    }
}

/// Checks a `postgres://` / `postgresql://` URI (`rest` is what follows the `//`), and
/// returns the settings its query gives.
pub(super) fn check_uri(rest: &str) -> Result<Vec<String>, String> {
    let parts = split_uri(rest);
    if let Some(userinfo) = parts.userinfo {
        percent_decode(userinfo)?;
    }
    for host in parts.hosts.split(',') {
        let port = if let Some(inner) = host.strip_prefix('[') {
            let end = inner
                .find(']')
                .ok_or_else(|| format!("an IPv6 host without its `]` in `{host}`"))?;
            let after = &inner[end + 1..];
            match after.strip_prefix(':') {
                Some(port) => port,
                None if after.is_empty() => "",
                None => {
                    return Err(format!(
                        "unexpected `{after}` after the host `[{}]`",
                        &inner[..end]
                    ))
                }
            }
        } else {
            let (name, port) = host.split_once(':').unwrap_or((host, ""));
            percent_decode(name)?;
            port
        };
        check_port(port)?;
    }
    percent_decode(parts.path.unwrap_or_default())?;
    let mut keys = Vec::new();
    for pair in parts
        .query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("the setting `{pair}` has no `=`"))?;
        let (key, value) = (percent_decode(key)?, percent_decode(value)?);
        check_setting(&key, &value)?;
        keys.push(key);
    }
    Ok(keys)
}

/// Splits a keyword/value string into its settings (values unquoted: `'a b'`, `\'`).
pub(super) fn keyword_settings(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut settings = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(settings);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("the setting `{key}` has no `=`"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("the value of `{key}` has no closing quote")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        check_setting(&key, &value)?;
        settings.push((key, value));
    }
}

/// `text` with any password replaced by `***`: the user info's and a `password=` setting's
/// in a URI (`scheme` its scheme, `rest` what follows `//`).
pub(super) fn mask_uri(scheme: &str, rest: &str) -> String {
    let parts = split_uri(rest);
    let mut out = format!("{scheme}://");
    if let Some(userinfo) = parts.userinfo {
        match userinfo.split_once(':') {
            Some((user, _)) => out.push_str(&format!("{user}:***@")),
            None => out.push_str(&format!("{userinfo}@")),
        }
    }
    out.push_str(parts.hosts);
    if let Some(path) = parts.path {
        out.push('/');
        out.push_str(path);
    }
    if let Some(query) = parts.query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _))
                    if k == "password" || k == "sslpassword" || k == "oauth_client_secret" =>
                {
                    format!("{k}=***")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

/// A keyword/value string with its secrets replaced by `***`.
pub(super) fn mask_keywords(text: &str) -> String {
    match keyword_settings(text) {
        Ok(settings) => settings
            .into_iter()
            .map(|(k, v)| match k.as_str() {
                "password" | "sslpassword" | "oauth_client_secret" => format!("{k}=***"),
                _ if v.is_empty() || v.contains(char::is_whitespace) || v.contains('\'') => {
                    format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
                }
                _ => format!("{k}={v}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        // Unreadable: show nothing after a `password`.
        Err(_) => match text.find("password") {
            Some(i) => format!("{}password=***", &text[..i]),
            None => text.to_owned(),
        },
    }
}
