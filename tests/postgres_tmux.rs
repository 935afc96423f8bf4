//! The approval overlay over an interactive psql, in a real terminal multiplexer: guard asks,
//! the human answers with one key, and psql's screen comes back as it was.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::postgres::Postgres;
use support::tmux::Tmux;

const APP_PASSWORD: &str = "app-tmux-pw-0c9d71e2b5";

/// guard running an interactive psql against the target, in an 80x24 window.
fn start(home: &support::Home, config: &std::path::Path, extra: &str) -> Tmux {
    let args = format!(
        "-q -c {} {extra} -- sh -c 'psql -X \"$SHOP_DATABASE_URL\"'",
        config.display()
    );
    let line = format!(
        "export SHOP_PW={APP_PASSWORD}; {}",
        Tmux::guard_line(home, &args)
    );
    Tmux::run(home, (80, 24), &line)
}

/// Types a line and Enter; a trailing `;` is escaped, which tmux would take as its own.
fn enter(tmux: &Tmux, line: &str) {
    match line.strip_suffix(';') {
        Some(head) => {
            tmux.send(head);
            tmux.send("\\;");
        }
        None => tmux.send(line),
    }
    tmux.keys(&["Enter"]);
}

fn setup() -> (Postgres, support::Home, PathBuf) {
    let pg = Postgres::start();
    pg.sql(&format!("create role app login password '{APP_PASSWORD}'"));
    pg.sql("create database shop owner app");
    pg.sql_in(
        "shop",
        "create table t (id int primary key, name text); \
         insert into t select g, 'n' || g from generate_series(1, 9) g; alter table t owner to app",
    );
    let home = support::Home::new();
    let config = home.path().join("guard.toml");
    let text = format!(
        "[[target]]\nname = \"shop\"\nkind = \"postgres\"\nupstream = \"{}\"\n\
         database = \"shop\"\ntls = \"disable\"\n\
         credentials = {{ username = \"app\", password_env = \"SHOP_PW\" }}\n",
        pg.addr()
    );
    std::fs::write(&config, text).unwrap();
    (pg, home, config)
}

fn count(pg: &Postgres) -> String {
    pg.sql_in("shop", "select count(*) from t")
}

#[test]
fn the_overlay_asks_and_n_y_a_answer_it_and_psql_comes_back() {
    let (pg, home, config) = setup();
    let tmux = start(&home, &config, "");
    tmux.expect("shop=>");
    enter(&tmux, "select 'before-' || count(*) from t;");
    tmux.expect("before-9");
    let before = tmux.screen();
    enter(&tmux, "delete from t where id = 1;");
    tmux.expect("guard: approval needed");
    tmux.send("n");
    tmux.expect("rejected by reviewer");
    let after = tmux.screen();
    assert!(
        after.starts_with(before.trim_end()),
        "before:\n{before}\nafter:\n{after}"
    );
    assert_eq!(count(&pg), "9");
    enter(&tmux, "delete from t where id = 2;");
    tmux.expect("guard: approval needed");
    tmux.send("y");
    tmux.expect("DELETE 1");
    assert_eq!(count(&pg), "8");
    enter(&tmux, "delete from t where id = 3;");
    tmux.expect("guard: approval needed");
    tmux.send("a");
    tmux.expect("DELETE 1\n");
    enter(&tmux, "delete from t where id = 4;");
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&pg) != "6" {
        assert!(
            Instant::now() < deadline,
            "the shape was not allowed:\n{}",
            tmux.screen()
        );
        assert!(
            !tmux.screen().contains("approval needed"),
            "{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_unanswered_request_times_out_and_the_child_cannot_answer_it() {
    let (pg, home, config) = setup();
    let tmux = start(&home, &config, "--approval-timeout 2s");
    tmux.expect("shop=>");
    // The statement's own text, echoed by psql, carries `y`s: output never answers the overlay.
    enter(&tmux, "delete from t where name = E'y\\033[2Jy';");
    tmux.expect("guard: approval needed");
    tmux.expect("approval timed out");
    assert_eq!(count(&pg), "9");
}
