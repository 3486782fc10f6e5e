//! Reading an admin command: a pure function from text to a command.

/// What `SHOW` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Show {
    /// The commands.
    Help,
    /// Pools per (database, user).
    Pools,
    /// Client connections.
    Clients,
    /// Server connections.
    Servers,
    /// Traffic per database.
    Stats,
    /// Settings.
    Config,
    /// Configured databases.
    Databases,
    /// Children, keys and bounds, optionally of one parent.
    Partitions(Option<String>),
    /// Routing counts per parent.
    Routes,
    /// The proxy's version.
    Version,
}

/// An admin command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Nothing but whitespace and semicolons.
    Empty,
    /// `SHOW ...`.
    Show(Show),
    /// `SET ...` from drivers and GUIs: accepted and ignored.
    Set,
    /// Re-read the configuration and catalogs.
    Reload,
    /// Stop lending servers and wait until all are back.
    Pause,
    /// Lend servers again.
    Resume,
    /// Graceful shutdown.
    Shutdown,
}

/// Parses one admin command (case-insensitive, an optional trailing `;`).
pub fn parse_command(sql: &str) -> Result<Command, String> {
    let text = sql.trim().trim_end_matches(';').trim();
    let words: Vec<&str> = text.split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let u: Vec<&str> = upper.iter().map(String::as_str).collect();
    let unknown = || {
        Err(format!(
            "unknown admin command \"{text}\"; SHOW HELP lists the commands"
        ))
    };
    Ok(match u.as_slice() {
        [] => Command::Empty,
        ["SET", ..] => Command::Set,
        ["RELOAD"] => Command::Reload,
        ["PAUSE"] => Command::Pause,
        ["RESUME"] => Command::Resume,
        ["SHUTDOWN"] => Command::Shutdown,
        ["SHOW", what] => Command::Show(match *what {
            "HELP" => Show::Help,
            "POOLS" => Show::Pools,
            "CLIENTS" => Show::Clients,
            "SERVERS" => Show::Servers,
            "STATS" => Show::Stats,
            "CONFIG" => Show::Config,
            "DATABASES" => Show::Databases,
            "PARTITIONS" => Show::Partitions(None),
            "ROUTES" => Show::Routes,
            "VERSION" => Show::Version,
            _ => return unknown(),
        }),
        ["SHOW", "PARTITIONS", _] => Command::Show(Show::Partitions(Some(words[2].to_owned()))),
        _ => return unknown(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_commands() {
        assert_eq!(parse_command("show pools;"), Ok(Command::Show(Show::Pools)));
        assert_eq!(
            parse_command("SHOW PARTITIONS public.Logs"),
            Ok(Command::Show(Show::Partitions(Some("public.Logs".into()))))
        );
        assert_eq!(parse_command("  ; "), Ok(Command::Empty));
        assert_eq!(parse_command("reload"), Ok(Command::Reload));
        assert_eq!(parse_command("SET application_name = 'x'"), Ok(Command::Set));
        let e = parse_command("DROP TABLE x").unwrap_err();
        assert!(e.contains("unknown admin command") && e.contains("SHOW HELP"), "{e}");
        assert!(parse_command("SHOW NOTHING").is_err());
    }
}
