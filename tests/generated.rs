//! The completion scripts in completions/ and the man pages in man/ are generated from the CLI;
//! this fails when they are stale. Regenerate with `./tests/run.sh --regenerate`.

mod support;

use std::path::Path;

const SHELLS: [(&str, &str); 5] = [
    ("bash", "guard.bash"),
    ("zsh", "_guard"),
    ("fish", "guard.fish"),
    ("elvish", "guard.elv"),
    ("powershell", "_guard.ps1"),
];

#[test]
fn completions_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let home = support::Home::new();
    for (shell, file) in SHELLS {
        let out = home.run(&["completions", shell]);
        assert!(out.status.success());
        let committed = std::fs::read(root.join("completions").join(file)).unwrap_or_else(|_| {
            panic!("completions/{file} is missing; run ./tests/run.sh --regenerate")
        });
        assert!(
            out.stdout == committed,
            "completions/{file} is stale; run ./tests/run.sh --regenerate"
        );
    }
}

#[test]
fn man_pages_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let home = support::Home::new();
    let dir = home.path().join("man");
    assert!(
        home.run(&["man", "--dir", dir.to_str().unwrap()])
            .status
            .success()
    );
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for name in &names {
        let fresh = std::fs::read(dir.join(name)).unwrap();
        let committed = std::fs::read(root.join("man").join(name))
            .unwrap_or_else(|_| panic!("man/{name:?} is missing; run ./tests/run.sh --regenerate"));
        assert!(
            fresh == committed,
            "man/{name:?} is stale; run ./tests/run.sh --regenerate"
        );
    }
    let committed = std::fs::read_dir(root.join("man")).unwrap().count();
    assert_eq!(
        committed,
        names.len(),
        "man/ holds pages for commands that no longer exist"
    );
}
