//! `--insert-setting NAME=VALUE`: ClickHouse settings a user adds to every insert, checked here for
//! their form and against the settings the guarantees depend on; the server then checks the names
//! against `system.settings` before anything is inserted.

use super::file::SettingsTable;
use crate::ch::insert::protected;

/// Settings in the order given, each name once (a later value wins).
pub type InsertSettings = Vec<(String, String)>;

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain {
        return Err(format!("`{name}` is not a setting name"));
    }
    match protected(name) {
        Some(why) => Err(format!("`{name}` cannot be set: {why}")),
        None => Ok(()),
    }
}

fn check_value(name: &str, value: &str) -> Result<(), String> {
    match value.chars().any(char::is_control) {
        true => Err(format!("the value of `{name}` has control characters")),
        false => Ok(()),
    }
}

fn add(out: &mut InsertSettings, name: String, value: String) {
    match out.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = value,
        None => out.push((name, value)),
    }
}

/// Settings from `NAME=VALUE` flags (or the environment variable's list).
pub fn from_flags(flags: &[String]) -> Result<InsertSettings, String> {
    let mut out = InsertSettings::new();
    for flag in flags {
        let (name, value) = flag
            .split_once('=')
            .ok_or_else(|| format!("`{flag}` is not NAME=VALUE"))?;
        let (name, value) = (name.trim(), value.trim());
        check_name(name)?;
        check_value(name, value)?;
        add(&mut out, name.to_owned(), value.to_owned());
    }
    Ok(out)
}

/// Settings from a config file's `insert_settings` table.
pub fn from_table(table: &SettingsTable) -> Result<InsertSettings, String> {
    let mut out = InsertSettings::new();
    for (name, value) in table {
        check_name(name)?;
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => u8::from(*b).to_string(),
            _ => {
                return Err(format!(
                    "the value of `{name}` must be a string, number or boolean"
                ));
            }
        };
        check_value(name, &text)?;
        add(&mut out, name.clone(), text);
    }
    Ok(out)
}

/// `base` with `over` on top.
pub fn merged(base: &InsertSettings, over: &InsertSettings) -> InsertSettings {
    let mut out = base.clone();
    for (name, value) in over {
        add(&mut out, name.clone(), value.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_the_guarantees_settings_are_refused() {
        let flags = ["insert_quorum=2".to_owned(), "max_threads = 4".to_owned()];
        assert_eq!(
            from_flags(&flags).unwrap(),
            [
                ("insert_quorum".to_owned(), "2".to_owned()),
                ("max_threads".to_owned(), "4".to_owned())
            ]
        );
        assert_eq!(
            from_flags(&["async_insert=1".to_owned()]).unwrap_err(),
            "`async_insert` cannot be set: an acknowledged insert must be written, not queued"
        );
        assert_eq!(
            from_flags(&["insert_quorum".to_owned()]).unwrap_err(),
            "`insert_quorum` is not NAME=VALUE"
        );
        assert!(from_flags(&["x;y=1".to_owned()]).is_err());
    }

    #[test]
    fn tables_take_numbers_and_booleans_and_routes_override() {
        let table: SettingsTable =
            toml::from_str("insert_quorum = 2\ninsert_quorum_parallel = false\n").unwrap();
        let base = from_table(&table).unwrap();
        assert_eq!(
            base,
            [
                ("insert_quorum".to_owned(), "2".to_owned()),
                ("insert_quorum_parallel".to_owned(), "0".to_owned())
            ]
        );
        let over = vec![("insert_quorum".to_owned(), "3".to_owned())];
        assert_eq!(merged(&base, &over)[0].1, "3");
    }
}
