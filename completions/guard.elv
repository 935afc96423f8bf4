
use builtin;
use str;

set edit:completion:arg-completer[guard] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'guard'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'guard'= {
            cand -c 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]'
            cand --config 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]'
            cand -n 'A label for the session, shown by `guard sessions`'
            cand --name 'A label for the session, shown by `guard sessions`'
            cand --approver 'Where approval requests go [default: tty when stdin and stdout are terminals, else deny]'
            cand --approval-timeout 'How long an approval request waits before it is rejected (e.g. 60s, 2m, 500ms)'
            cand --record-input 'Also record keystrokes in the cast (off by default: they can hold secrets)'
            cand --no-cast 'Write no asciicast recording (the transcript is always written)'
            cand -q 'Print no banner on stderr'
            cand --quiet 'Print no banner on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand run 'Run a command under guard (the same as `guard [OPTIONS] -- <COMMAND>`)'
            cand sessions 'List recorded sessions, newest first'
            cand show 'Print a human summary of one session'
            cand export 'Write a session as Markdown (for a pull request), JSON or a self-contained HTML page'
            cand verify 'Check a session''s transcript chain and files; exit 1 when anything was altered or is missing'
            cand replay 'Play a session''s terminal recording; `q` quits'
            cand login 'Store a broker token in the OS keyring, read from a hidden prompt or from stdin'
            cand logout 'Remove the broker token `guard login` stored'
            cand doctor 'Check the configuration, the broker token, each target''s credentials and upstream; exit 1 when anything is wrong. Prints no secret'
            cand demo 'Try guard in a minute: a fake customer API behind guard, and a shell to poke it from'
            cand init 'Write a guard.toml by answering a few questions (needs a terminal)'
            cand policy 'Inspect the policy: how statements and requests are classified and decided'
            cand completions 'Print a shell completion script to stdout'
            cand man 'Write man pages (to stdout, or one file per command into a folder)'
            cand approve 'List or answer the approval requests of a session run with `--approver socket`'
            cand mask 'Try the masking rules of the `[mask]` section'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'guard;run'= {
            cand -c 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]'
            cand --config 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]'
            cand -n 'A label for the session, shown by `guard sessions`'
            cand --name 'A label for the session, shown by `guard sessions`'
            cand --approver 'Where approval requests go [default: tty when stdin and stdout are terminals, else deny]'
            cand --approval-timeout 'How long an approval request waits before it is rejected (e.g. 60s, 2m, 500ms)'
            cand --record-input 'Also record keystrokes in the cast (off by default: they can hold secrets)'
            cand --no-cast 'Write no asciicast recording (the transcript is always written)'
            cand -q 'Print no banner on stderr'
            cand --quiet 'Print no banner on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'guard;sessions'= {
            cand --json 'Print one JSON document instead of a table'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'guard;show'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'guard;export'= {
            cand --format 'The format to write'
            cand -o 'Write to this file instead of stdout'
            cand --output 'Write to this file instead of stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'guard;verify'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'guard;replay'= {
            cand --speed 'Playback speed (2 is twice as fast)'
            cand --idle-limit 'Shorten pauses longer than this many seconds'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'guard;login'= {
            cand --address 'The broker''s address [default: [broker] address in the configuration, else $VAULT_ADDR, else $BAO_ADDR]'
            cand -c 'Configuration file to take the broker from [default: as for `guard run`]'
            cand --config 'Configuration file to take the broker from [default: as for `guard run`]'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'guard;logout'= {
            cand --address 'The broker''s address [default: [broker] address in the configuration, else $VAULT_ADDR, else $BAO_ADDR]'
            cand -c 'Configuration file to take the broker from [default: as for `guard run`]'
            cand --config 'Configuration file to take the broker from [default: as for `guard run`]'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'guard;doctor'= {
            cand -c 'Configuration file to check [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]'
            cand --config 'Configuration file to check [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'guard;demo'= {
            cand -q 'Print no banner'
            cand --quiet 'Print no banner'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'guard;init'= {
            cand -o 'Where to write the configuration'
            cand --output 'Where to write the configuration'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'guard;policy'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand explain 'Print the class, the reason, the rule that matches and the outcome of a SQL text or an HTTP request, without running it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'guard;policy;explain'= {
            cand --target 'Decide as for this target: rules that name another target do not apply'
            cand -c 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]'
            cand --config 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'guard;policy;help'= {
            cand explain 'Print the class, the reason, the rule that matches and the outcome of a SQL text or an HTTP request, without running it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'guard;policy;help;explain'= {
        }
        &'guard;policy;help;help'= {
        }
        &'guard;completions'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'guard;man'= {
            cand --dir 'Write guard.1 and one page per command into this folder instead of guard.1 to stdout'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'guard;approve'= {
            cand --session 'The session: a full id, a unique prefix of one, or `last`'
            cand --code 'The one-time code guard printed with the request on its own terminal'
            cand --allow 'Let the request through, once'
            cand --deny 'Refuse the request'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'guard;mask'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand test 'Mask standard input with the configured rules and print it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'guard;mask;test'= {
            cand -c 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]'
            cand --config 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]'
            cand --json 'Print one JSON object, {"text": ..., "masked": {"count": N, "kinds": {...}}}, instead of the masked text'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'guard;mask;help'= {
            cand test 'Mask standard input with the configured rules and print it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'guard;mask;help;test'= {
        }
        &'guard;mask;help;help'= {
        }
        &'guard;help'= {
            cand run 'Run a command under guard (the same as `guard [OPTIONS] -- <COMMAND>`)'
            cand sessions 'List recorded sessions, newest first'
            cand show 'Print a human summary of one session'
            cand export 'Write a session as Markdown (for a pull request), JSON or a self-contained HTML page'
            cand verify 'Check a session''s transcript chain and files; exit 1 when anything was altered or is missing'
            cand replay 'Play a session''s terminal recording; `q` quits'
            cand login 'Store a broker token in the OS keyring, read from a hidden prompt or from stdin'
            cand logout 'Remove the broker token `guard login` stored'
            cand doctor 'Check the configuration, the broker token, each target''s credentials and upstream; exit 1 when anything is wrong. Prints no secret'
            cand demo 'Try guard in a minute: a fake customer API behind guard, and a shell to poke it from'
            cand init 'Write a guard.toml by answering a few questions (needs a terminal)'
            cand policy 'Inspect the policy: how statements and requests are classified and decided'
            cand completions 'Print a shell completion script to stdout'
            cand man 'Write man pages (to stdout, or one file per command into a folder)'
            cand approve 'List or answer the approval requests of a session run with `--approver socket`'
            cand mask 'Try the masking rules of the `[mask]` section'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'guard;help;run'= {
        }
        &'guard;help;sessions'= {
        }
        &'guard;help;show'= {
        }
        &'guard;help;export'= {
        }
        &'guard;help;verify'= {
        }
        &'guard;help;replay'= {
        }
        &'guard;help;login'= {
        }
        &'guard;help;logout'= {
        }
        &'guard;help;doctor'= {
        }
        &'guard;help;demo'= {
        }
        &'guard;help;init'= {
        }
        &'guard;help;policy'= {
            cand explain 'Print the class, the reason, the rule that matches and the outcome of a SQL text or an HTTP request, without running it'
        }
        &'guard;help;policy;explain'= {
        }
        &'guard;help;completions'= {
        }
        &'guard;help;man'= {
        }
        &'guard;help;approve'= {
        }
        &'guard;help;mask'= {
            cand test 'Mask standard input with the configured rules and print it'
        }
        &'guard;help;mask;test'= {
        }
        &'guard;help;help'= {
        }
    ]
    $completions[$command]
}
