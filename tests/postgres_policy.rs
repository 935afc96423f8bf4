//! The policy at the PostgreSQL gateway, end to end: real psql, psycopg and pgbench through the
//! real guard binary against a real server. guard's stdin is not a terminal, so every `ask` is
//! rejected at once (SPEC, "Approvals": `deny` is the default with no terminal).

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use support::postgres::Postgres;

const APP_PASSWORD: &str = "app-policy-pw-81c3d2e9aa";

struct Gateway {
    pg: Postgres,
    home: support::Home,
    config: PathBuf,
}

impl Gateway {
    /// `shop` owned by `app`, with a table `t` of three rows; `rules` appended to guard.toml.
    fn new(rules: &str) -> Gateway {
        let pg = Postgres::start();
        pg.sql(&format!("create role app login password '{APP_PASSWORD}'"));
        pg.sql("create database shop owner app");
        pg.sql_in(
            "shop",
            "create table t (id int primary key, name text); \
             insert into t values (1, 'a'), (2, 'b'), (3, 'c'); alter table t owner to app",
        );
        let home = support::Home::new();
        let config = home.path().join("guard.toml");
        let text = format!(
            "[[target]]\nname = \"shop\"\nkind = \"postgres\"\nupstream = \"{}\"\n\
             database = \"shop\"\ntls = \"disable\"\n\
             credentials = {{ username = \"app\", password_env = \"SHOP_PW\" }}\n{rules}",
            pg.addr()
        );
        std::fs::write(&config, text).unwrap();
        Gateway { pg, home, config }
    }

    fn run(&self, script: &str) -> Output {
        self.home
            .run_script(&self.config, script, ("SHOP_PW", APP_PASSWORD))
    }

    /// A Python script through guard; its stdout and stderr together.
    fn python(&self, script: &str) -> String {
        let file = self.home.path().join("client.py");
        std::fs::write(&file, script).unwrap();
        let out = self.run(&format!("python3 {} 2>&1", file.display()));
        support::stdout(&out).replace('\r', "")
    }

    /// psql through guard with `sql` on stdin; stdout and stderr of psql together.
    fn psql(&self, sql: &str) -> String {
        let file = self.home.path().join("in.sql");
        std::fs::write(&file, sql).unwrap();
        let script = format!(
            "psql -X -v VERBOSITY=verbose \"$SHOP_DATABASE_URL\" -f {} 2>&1",
            file.display()
        );
        let out = self.run(&script);
        support::stdout(&out).replace('\r', "")
    }

    fn rows(&self) -> String {
        self.pg.sql_in("shop", "select count(*) from t")
    }

    fn transcript(&self) -> Vec<Value> {
        self.home.last_records()
    }

    fn verify_last(&self) {
        let out = self.home.run(&["verify", "last"]);
        assert!(out.status.success(), "verify: {}", support::stdout(&out));
    }
}

fn records<'a>(transcript: &'a [Value], kind: &str) -> Vec<&'a Value> {
    transcript.iter().filter(|r| r["type"] == kind).collect()
}

fn query<'a>(transcript: &'a [Value], sql: &str) -> &'a Value {
    records(transcript, "query")
        .into_iter()
        .find(|q| q["sql"].as_str().is_some_and(|s| s.contains(sql)))
        .unwrap_or_else(|| panic!("no query record with `{sql}`"))
}

#[test]
fn risky_statements_are_refused_with_42501_and_the_database_is_unchanged() {
    let gw = Gateway::new("");
    let out = gw.psql(
        "drop table t;\n\
         select 'after-drop', count(*) from t;\n\
         delete from t;\n\
         update t set name = 'x' where id = 1;\n\
         select 1; drop table t;\n\
         prepare del as delete from t;\n\
         execute del;\n\
         copy t to program 'cat';\n\
         select 'still-usable', count(*) from t;\n",
    );
    assert!(out.contains("42501"), "{out}");
    assert!(
        out.contains("guard: denied by rule default: dangerous deny"),
        "{out}"
    );
    assert!(out.contains("guard: rejected by reviewer"), "{out}");
    assert!(out.contains("after-drop |     3"), "{out}");
    assert!(out.contains("still-usable |     3"), "{out}");
    assert!(
        gw.pg
            .sql_in("shop", "select name from t where id = 1")
            .contains('a')
    );
    assert!(gw.rows().contains('3'));
    let transcript = gw.transcript();
    let drop = query(&transcript, "drop table t");
    assert_eq!(drop["class"], "dangerous");
    assert_eq!(drop["decision"], "deny");
    assert_eq!(drop["rule"], "default: dangerous deny");
    let update = query(&transcript, "update t set");
    assert_eq!(update["class"], "write");
    assert_eq!(update["decision"], "rejected");
    assert_eq!(update["rule"], "default: write ask");
    let approvals = records(&transcript, "approval");
    assert!(
        approvals.iter().any(
            |a| a["id"].as_str() == Some(update["id"].to_string().as_str()) && a["via"] == "deny"
        ),
        "{approvals:?}"
    );
    let read = query(&transcript, "still-usable");
    assert_eq!(
        (read["class"].as_str(), read["decision"].as_str()),
        (Some("read"), Some("allow"))
    );
    gw.verify_last();
}

#[test]
fn a_refusal_inside_a_transaction_aborts_it_until_rollback() {
    let gw = Gateway::new("");
    let out = gw.psql(
        "begin;\n\
         select 'in-tx';\n\
         delete from t;\n\
         select 'next';\n\
         commit;\n\
         select 'after-commit', count(*) from t;\n\
         begin;\n\
         drop table t;\n\
         rollback;\n\
         select 'after-rollback', count(*) from t;\n",
    );
    assert!(out.contains("current transaction is aborted"), "{out}");
    assert!(!out.contains("next\n"), "{out}");
    assert!(out.contains("ROLLBACK"), "{out}");
    assert!(out.contains("after-commit |     3"), "{out}");
    assert!(out.contains("after-rollback |     3"), "{out}");
    gw.verify_last();
}

/// libpq's `PQexecParams` sends COMMIT with the extended protocol (Parse, Bind, Describe,
/// Execute, Sync), as JDBC does: in a block guard failed, the server's answer is a ROLLBACK,
/// and the row inserted before the refusal is gone.
#[test]
fn an_extended_protocol_commit_of_a_failed_block_rolls_it_back() {
    let gw = Gateway::new(
        "[[rule]]\nclass = [\"write\"]\nmatch = \"(?i)^insert\"\naction = \"allow\"\n",
    );
    let script = r#"
import os, psycopg
conn = psycopg.connect(os.environ["SHOP_DATABASE_URL"])
pg = conn.pgconn
def run(sql):
    res = pg.exec_params(sql.encode(), [])
    error = res.error_field(psycopg.pq.DiagnosticField.SQLSTATE)
    print(sql, "->", psycopg.pq.ExecStatus(res.status).name, (res.command_status or b"").decode(), error and error.decode())
run("begin")
run("insert into t values (4, 'd')")
run("delete from t")
run("select 1")
run("commit")
print("status", psycopg.pq.TransactionStatus(pg.transaction_status).name)
run("select count(*) from t")
print("count", pg.exec_params(b"select count(*) from t", []).get_value(0, 0).decode())
run("select 'after'")
"#;
    let text = gw.python(script);
    for line in [
        "insert into t values (4, 'd') -> COMMAND_OK INSERT 0 1 None",
        "delete from t -> FATAL_ERROR  42501",
        "select 1 -> FATAL_ERROR  25P02",
        "commit -> COMMAND_OK ROLLBACK None",
        "status IDLE",
        "count 3",
        "select 'after' -> TUPLES_OK SELECT 1 None",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    assert!(
        gw.rows().contains('3') && !gw.rows().contains('4'),
        "{}",
        gw.rows()
    );
    let transcript = gw.transcript();
    let rollback = query(&transcript, "ROLLBACK");
    assert_eq!(rollback["decision"], "allow");
    gw.verify_last();
}

#[test]
fn psycopg_extended_protocol_writes_are_refused_and_the_connection_stays_usable() {
    let gw = Gateway::new("");
    let script = r#"
import psycopg
conn = psycopg.connect(__import__("os").environ["SHOP_DATABASE_URL"], autocommit=True)
for sql in ["with d as (delete from t where id = 1 returning id) select * from d",
            "delete from t"]:
    try:
        conn.execute(sql, prepare=True)
        print("ran", sql)
    except psycopg.Error as e:
        print("refused", e.sqlstate, str(e).strip().splitlines()[0])
print("read", conn.execute("select count(*) from t where id > %s", [0]).fetchone()[0])
with conn.transaction():
    conn.execute("select 1")
print("done")
"#;
    let text = gw.python(script);
    assert!(
        text.contains("refused 42501 guard: rejected by reviewer"),
        "{text}"
    );
    assert!(
        text.contains("refused 42501 guard: denied by rule"),
        "{text}"
    );
    assert!(text.contains("read 3"), "{text}");
    assert!(text.contains("done"), "{text}");
    assert!(gw.rows().contains('3'));
    let transcript = gw.transcript();
    let cte = query(&transcript, "with d as");
    assert_eq!(cte["class"], "write");
    assert_eq!(cte["decision"], "rejected");
    gw.verify_last();
}

#[test]
fn a_rule_that_allows_writes_lets_pgbench_write() {
    let gw = Gateway::new("[[rule]]\ntarget = \"shop\"\nclass = [\"write\"]\naction = \"allow\"\n");
    // pgbench -i creates and drops tables: done directly, as an administrator would.
    let url = format!("postgres://app:{APP_PASSWORD}@{}/shop", gw.pg.addr());
    let init = Command::new("pgbench")
        .args(["-i", "-q", "-s", "1", &url])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", support::stderr(&init));
    let out = gw.run("pgbench -n -c 2 -j 2 -t 50 -M prepared \"$SHOP_DATABASE_URL\" 2>&1");
    let text = support::stdout(&out).replace('\r', "");
    assert!(text.contains("number of failed transactions: 0"), "{text}");
    let transcript = gw.transcript();
    let update = query(&transcript, "UPDATE pgbench_accounts");
    assert_eq!(update["decision"], "allow");
    assert!(
        update["rule"].as_str().unwrap().starts_with("rule 1:"),
        "{update}"
    );
    gw.verify_last();
}

/// Statements of one shape share a classification only when no constant decided it: after
/// `WHERE 1 = 2` and `WHERE id = 1` have run, `WHERE 1 = 1` (every row) is still refused, on the
/// same connection, in simple and extended protocol.
#[test]
fn constants_that_change_the_class_are_seen_on_every_statement() {
    let gw = Gateway::new("[[rule]]\ntarget = \"shop\"\nclass = [\"write\"]\naction = \"allow\"\n");
    let out = gw.psql(
        "delete from t where 1 = 2;\n\
         update t set name = 'x' where id = 1;\n\
         update t set name = 'y' where id = 2;\n\
         delete from t where 1 = 1;\n\
         update t set name = 'z' where 'a' = 'a';\n",
    );
    assert!(out.contains("UPDATE 1"), "{out}");
    assert_eq!(out.matches("42501").count(), 2, "{out}");
    assert_eq!(gw.rows().trim(), "3");
    let script = "python3 -c \"import psycopg, os\n\
         c = psycopg.connect(os.environ['SHOP_DATABASE_URL'], autocommit=True)\n\
         for n in (2, 3, 1):\n\
         \x20   try:\n\
         \x20       c.execute('delete from t where 1 = ' + str(n)); print('ran', n)\n\
         \x20   except Exception as e: print('refused', n, e.sqlstate)\n\" 2>&1";
    let text = support::stdout(&gw.run(script)).replace('\r', "");
    assert!(text.contains("ran 2") && text.contains("ran 3"), "{text}");
    assert!(text.contains("refused 1 42501"), "{text}");
    assert_eq!(gw.rows().trim(), "3");
    let transcript = gw.transcript();
    let every_row = query(&transcript, "delete from t where 1 = 1");
    assert_eq!(every_row["class"], "dangerous", "{every_row}");
    assert_eq!(every_row["decision"], "deny", "{every_row}");
}

#[test]
fn sql_in_the_transcript_is_masked() {
    let gw = Gateway::new("[mask]\ndetectors = \"default\"\n");
    let out = gw.psql("select 'alice@example.com' as mail;\n");
    assert!(out.contains("mail"), "{out}");
    let text = std::fs::read_to_string(gw.home.last_session().join("transcript.jsonl")).unwrap();
    assert!(!text.contains("alice@example.com"), "{text}");
}
