//! A role a client switches to (SET ROLE, SET SESSION AUTHORIZATION,
//! set_config) follows that client in transaction pooling and never reaches
//! another one; RESET ROLE, RESET SESSION AUTHORIZATION, DISCARD ALL and a
//! rolled-back SET behave as on PostgreSQL.

use crate::support::{self, Cluster, ProxySettings, TestProxy, PASSWORD};

/// The one text value of a simple query.
async fn value(c: &tokio_postgres::Client, sql: &str) -> String {
    let (rows, _) = support::rows(c, sql).await;
    rows.first()
        .and_then(|r| r.first().cloned().flatten())
        .unwrap_or_default()
}

async fn proxy() -> TestProxy {
    let cluster = Cluster::shared();
    let admin = support::superuser(cluster.port).await;
    for i in 0..5 {
        admin
            .batch_execute(&format!(
                "DO $$ BEGIN CREATE ROLE role_{i} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            ))
            .await
            .unwrap();
    }
    TestProxy::start(
        cluster,
        ProxySettings {
            mode: "transaction",
            pool_size: 4,
            ..Default::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_follow_their_client_and_never_leak() {
    let p = proxy().await;
    let mut tasks = Vec::new();
    for client in 0..50usize {
        let port = p.port;
        tasks.push(tokio::spawn(async move {
            let c = support::connect(port, "postgres", PASSWORD, "postgres").await.unwrap();
            // Every other client switches role, each a way of its own.
            let role = format!("role_{}", client % 5);
            let expected = match client % 10 {
                0 => {
                    c.batch_execute(&format!("SET ROLE {role}")).await.unwrap();
                    role.clone()
                }
                2 => {
                    c.batch_execute(&format!("SELECT set_config('role', '{role}', false)"))
                        .await
                        .unwrap();
                    role.clone()
                }
                4 => {
                    c.batch_execute(&format!("SET SESSION AUTHORIZATION {role}"))
                        .await
                        .unwrap();
                    role.clone()
                }
                6 => {
                    // Rolled back: it never happened.
                    c.batch_execute(&format!("BEGIN; SET ROLE {role}; ROLLBACK"))
                        .await
                        .unwrap();
                    "postgres".to_owned()
                }
                8 => {
                    c.batch_execute(&format!("SET ROLE {role}")).await.unwrap();
                    c.batch_execute("RESET ROLE").await.unwrap();
                    "postgres".to_owned()
                }
                _ => "postgres".to_owned(),
            };
            for round in 0..40 {
                let user = value(&c, "SELECT current_user").await;
                assert_eq!(user, expected, "client {client} round {round}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // DISCARD ALL and RESET SESSION AUTHORIZATION end a switch too.
    let c = support::connect(p.port, "postgres", PASSWORD, "postgres")
        .await
        .unwrap();
    c.batch_execute("SET SESSION AUTHORIZATION role_1").await.unwrap();
    assert_eq!(value(&c, "SELECT session_user").await, "role_1");
    c.batch_execute("RESET SESSION AUTHORIZATION").await.unwrap();
    assert_eq!(value(&c, "SELECT session_user").await, "postgres");
    c.batch_execute("SET ROLE role_2").await.unwrap();
    c.batch_execute("DISCARD ALL").await.unwrap();
    assert_eq!(value(&c, "SELECT current_user").await, "postgres");
    // A client that disconnects with a role set leaves a clean server.
    c.batch_execute("SET ROLE role_3").await.unwrap();
    drop(c);
    for _ in 0..8 {
        let other = support::connect(p.port, "postgres", PASSWORD, "postgres")
            .await
            .unwrap();
        assert_eq!(value(&other, "SELECT current_user").await, "postgres");
    }
}
