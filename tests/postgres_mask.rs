//! Masking in the PostgreSQL gateway, end to end: real psql and psycopg 3 (text and binary
//! cursors) read sensitive values through guard, and neither they nor any session file see one.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::postgres::Postgres;

const APP_PASSWORD: &str = "app-real-pw-8d1e4a27c93f";

/// Values that must never reach the client or a session file.
const RAW: &[&str] = &[
    "alice@example.com",
    "bob@example.org",
    "carol@example.net",
    "4111 1111 1111 1111",
    "4111111111111111",
    "5555555555554444",
    "123-45-6789",
    "123456789",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
];

const FIXTURE: &str = "
create table customers (
    id int primary key, name text, email text, card text, ssn text, ssn_num int,
    api_key text, profile jsonb, notes text, amount numeric(10,2));
insert into customers values
 (1, 'Alice Smith', 'alice@example.com', '4111 1111 1111 1111', '123-45-6789', 123456789,
  'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
  '{\"contact\": {\"email\": \"carol@example.net\", \"cards\": [\"5555555555554444\"]}}',
  'called from bob@example.org, paid with 4111111111111111', 42.50),
 (2, 'Bruno Diaz', 'bob@example.org', '5555555555554444', null, null, null,
  '{\"tier\": \"gold\"}', 'nothing to see', 7.25);
alter table customers owner to app;
";

struct Gateway {
    _pg: Postgres,
    home: support::Home,
    config: PathBuf,
}

impl Gateway {
    fn new() -> Gateway {
        let pg = Postgres::start();
        pg.sql(&format!("create role app login password '{APP_PASSWORD}'"));
        pg.sql("create database shop owner app");
        pg.sql_in("shop", FIXTURE);
        let home = support::Home::new();
        let config = home.path().join("guard.toml");
        let text = format!(
            "[mask]\ncolumns = [\"email\", \"*ssn*\", \"card*\"]\nstyle = \"partial\"\n\n\
             [[target]]\nname = \"shop\"\nkind = \"postgres\"\nupstream = \"{}\"\n\
             database = \"shop\"\ntls = \"disable\"\n\
             credentials = {{ username = \"app\", password_env = \"SHOP_PW\" }}\n",
            pg.addr()
        );
        std::fs::write(&config, text).unwrap();
        Gateway {
            _pg: pg,
            home,
            config,
        }
    }

    fn run(&self, script: &str) -> Output {
        self.home
            .run_script(&self.config, script, ("SHOP_PW", APP_PASSWORD))
    }

    fn transcript(&self) -> Vec<Value> {
        self.home.last_records()
    }

    /// No raw value in any file of the session folder, and the chain verifies.
    fn check_session(&self) {
        let mut files = vec![self.home.last_session()];
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for raw in RAW {
                assert!(!text.contains(raw), "{raw} in {}", path.display());
            }
        }
        let out = self.home.run(&["verify", "last"]);
        assert!(out.status.success(), "verify: {}", support::stdout(&out));
    }
}

fn assert_clean(out: &Output) -> String {
    let stdout = support::stdout(out);
    assert!(
        out.status.success(),
        "guard exited {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status.code(),
        support::stderr(out)
    );
    for raw in RAW {
        assert!(!stdout.contains(raw), "{raw} reached the client:\n{stdout}");
    }
    stdout
}

fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn psql_sees_masked_values_and_harmless_columns_unchanged() {
    let gw = Gateway::new();
    let queries = [
        "select id, name, email, card, ssn, ssn_num, api_key, profile, notes, amount from customers order by id",
        "select email as e, card as c, ssn_num as n from customers order by id",
        "select lower(email), name || ' ' || email from customers order by id",
        "select string_agg(email, ','), sum(amount) from customers",
        "select row_to_json(c) from customers c order by id",
        "select card::int from customers",
        "copy (select name, email, card, notes, profile from customers) to stdout",
        "copy (select email, notes from customers) to stdout with (format csv)",
    ];
    let cmds: Vec<String> = queries.iter().map(|q| format!("-c \"{q}\"")).collect();
    let out = gw.run(&format!(
        "psql \"$SHOP_DATABASE_URL\" -X -A -v ON_ERROR_STOP=0 {} 2>&1",
        cmds.join(" ")
    ));
    let stdout = assert_clean(&out);
    for kept in [
        "Alice Smith",
        "Bruno Diaz",
        "42.50",
        "7.25",
        "nothing to see",
        "gold",
    ] {
        assert!(stdout.contains(kept), "{kept} missing:\n{stdout}");
    }
    for masked in ["a***@example.com", "**** **** **** 1111", "***-**-6789"] {
        assert!(stdout.contains(masked), "{masked} missing:\n{stdout}");
    }
    assert!(
        stdout.contains("invalid input syntax for type integer"),
        "{stdout}"
    );
    let results: Vec<Value> = gw
        .transcript()
        .into_iter()
        .filter(|r| r["type"] == "result")
        .collect();
    assert!(
        results[0]["masked"]["count"].as_u64().unwrap() >= 8,
        "{results:?}"
    );
    assert_eq!(results[0]["masked"]["kinds"]["email"], 4, "{results:?}");
    gw.check_session();
}

#[test]
fn psycopg_text_and_binary_cursors_decode_masked_rows() {
    let gw = Gateway::new();
    let out = gw.run(&format!("python3 {}", script("psycopg_mask.py")));
    let stdout = assert_clean(&out);
    assert!(stdout.contains("done"), "{stdout}");
    assert!(stdout.contains("binary (1, 'Alice Smith'"), "{stdout}");
    assert!(stdout.contains("Decimal('42.50')"), "{stdout}");
    assert!(stdout.contains("copy 1\tAlice Smith"), "{stdout}");
    gw.check_session();
}
