//! The DDL hook: event triggers that NOTIFY the proxy when DDL changes a
//! database, so its catalog is reloaded within milliseconds instead of at
//! the next refresh interval, whoever made the change (a migration tool,
//! another proxy, psql on the server, a function). Installing it needs a
//! superuser (PostgreSQL only lets superusers create event triggers).

use super::live::HOOK_CHANNEL;
use super::load::{self, LoadError, HOOK_TRIGGERS};
use crate::backend::BackendTarget;

/// The SQL that installs (or re-installs) the hook in one database.
pub fn install_sql() -> String {
    let [end, drop] = HOOK_TRIGGERS;
    format!(
        "CREATE SCHEMA IF NOT EXISTS partproxy;
GRANT USAGE ON SCHEMA partproxy TO PUBLIC;
-- Tells every listening proxy that the catalog may have changed; the
-- payload is only informative (proxies reload the whole catalog).
CREATE OR REPLACE FUNCTION partproxy.notify_ddl() RETURNS event_trigger
LANGUAGE plpgsql AS $hook$
BEGIN
  PERFORM pg_catalog.pg_notify('{HOOK_CHANNEL}', pg_catalog.current_database());
END
$hook$;
DROP EVENT TRIGGER IF EXISTS {end};
CREATE EVENT TRIGGER {end} ON ddl_command_end EXECUTE FUNCTION partproxy.notify_ddl();
DROP EVENT TRIGGER IF EXISTS {drop};
CREATE EVENT TRIGGER {drop} ON sql_drop EXECUTE FUNCTION partproxy.notify_ddl();
"
    )
}

/// The SQL that removes the hook.
pub fn uninstall_sql() -> String {
    let [end, drop] = HOOK_TRIGGERS;
    format!(
        "DROP EVENT TRIGGER IF EXISTS {end};
DROP EVENT TRIGGER IF EXISTS {drop};
DROP FUNCTION IF EXISTS partproxy.notify_ddl();
"
    )
}

/// Runs `sql` in one transaction on the database behind `target`.
pub async fn apply(target: &BackendTarget, sql: &str) -> Result<(), LoadError> {
    let client = load::connect(target).await?;
    client.batch_execute(&format!("BEGIN;\n{sql}COMMIT;")).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_names_its_triggers_and_channel() {
        let sql = install_sql();
        for name in HOOK_TRIGGERS {
            assert!(sql.contains(&format!("CREATE EVENT TRIGGER {name}")), "{sql}");
            assert!(uninstall_sql().contains(name));
        }
        assert!(sql.contains("ON ddl_command_end") && sql.contains("ON sql_drop"));
        assert!(sql.contains(&format!("pg_notify('{HOOK_CHANNEL}'")));
    }
}
