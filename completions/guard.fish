# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_guard_global_optspecs
    string join \n c/config= n/name= approver= approval-timeout= record-input no-cast q/quiet h/help V/version
end

function __fish_guard_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_guard_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_guard_using_subcommand
    set -l cmd (__fish_guard_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c guard -n "__fish_guard_needs_command" -s c -l config -d 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]' -r -F
complete -c guard -n "__fish_guard_needs_command" -s n -l name -d 'A label for the session, shown by `guard sessions`' -r
complete -c guard -n "__fish_guard_needs_command" -l approver -d 'Where approval requests go [default: tty when stdin and stdout are terminals, else deny]' -r -f -a "tty\t'Ask in guard\'s own terminal, over the agent\'s screen'
socket\t'Serve `guard approve` from another terminal over a unix socket'
deny\t'Reject every request that would ask'"
complete -c guard -n "__fish_guard_needs_command" -l approval-timeout -d 'How long an approval request waits before it is rejected (e.g. 60s, 2m, 500ms)' -r
complete -c guard -n "__fish_guard_needs_command" -l record-input -d 'Also record keystrokes in the cast (off by default: they can hold secrets)'
complete -c guard -n "__fish_guard_needs_command" -l no-cast -d 'Write no asciicast recording (the transcript is always written)'
complete -c guard -n "__fish_guard_needs_command" -s q -l quiet -d 'Print no banner on stderr'
complete -c guard -n "__fish_guard_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c guard -n "__fish_guard_needs_command" -s V -l version -d 'Print version'
complete -c guard -n "__fish_guard_needs_command" -a "run" -d 'Run a command under guard (the same as `guard [OPTIONS] -- <COMMAND>`)'
complete -c guard -n "__fish_guard_needs_command" -a "sessions" -d 'List recorded sessions, newest first'
complete -c guard -n "__fish_guard_needs_command" -a "show" -d 'Print a human summary of one session'
complete -c guard -n "__fish_guard_needs_command" -a "export" -d 'Write a session as Markdown (for a pull request), JSON or a self-contained HTML page'
complete -c guard -n "__fish_guard_needs_command" -a "verify" -d 'Check a session\'s transcript chain and files; exit 1 when anything was altered or is missing'
complete -c guard -n "__fish_guard_needs_command" -a "replay" -d 'Play a session\'s terminal recording; `q` quits'
complete -c guard -n "__fish_guard_needs_command" -a "login" -d 'Store a broker token in the OS keyring, read from a hidden prompt or from stdin'
complete -c guard -n "__fish_guard_needs_command" -a "logout" -d 'Remove the broker token `guard login` stored'
complete -c guard -n "__fish_guard_needs_command" -a "doctor" -d 'Check the configuration, the broker token, each target\'s credentials and upstream; exit 1 when anything is wrong. Prints no secret'
complete -c guard -n "__fish_guard_needs_command" -a "demo" -d 'Try guard in a minute: a fake customer API behind guard, and a shell to poke it from'
complete -c guard -n "__fish_guard_needs_command" -a "init" -d 'Write a guard.toml by answering a few questions (needs a terminal)'
complete -c guard -n "__fish_guard_needs_command" -a "policy" -d 'Inspect the policy: how statements and requests are classified and decided'
complete -c guard -n "__fish_guard_needs_command" -a "completions" -d 'Print a shell completion script to stdout'
complete -c guard -n "__fish_guard_needs_command" -a "man" -d 'Write man pages (to stdout, or one file per command into a folder)'
complete -c guard -n "__fish_guard_needs_command" -a "approve" -d 'List or answer the approval requests of a session run with `--approver socket`'
complete -c guard -n "__fish_guard_needs_command" -a "mask" -d 'Try the masking rules of the `[mask]` section'
complete -c guard -n "__fish_guard_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand run" -s c -l config -d 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]' -r -F
complete -c guard -n "__fish_guard_using_subcommand run" -s n -l name -d 'A label for the session, shown by `guard sessions`' -r
complete -c guard -n "__fish_guard_using_subcommand run" -l approver -d 'Where approval requests go [default: tty when stdin and stdout are terminals, else deny]' -r -f -a "tty\t'Ask in guard\'s own terminal, over the agent\'s screen'
socket\t'Serve `guard approve` from another terminal over a unix socket'
deny\t'Reject every request that would ask'"
complete -c guard -n "__fish_guard_using_subcommand run" -l approval-timeout -d 'How long an approval request waits before it is rejected (e.g. 60s, 2m, 500ms)' -r
complete -c guard -n "__fish_guard_using_subcommand run" -l record-input -d 'Also record keystrokes in the cast (off by default: they can hold secrets)'
complete -c guard -n "__fish_guard_using_subcommand run" -l no-cast -d 'Write no asciicast recording (the transcript is always written)'
complete -c guard -n "__fish_guard_using_subcommand run" -s q -l quiet -d 'Print no banner on stderr'
complete -c guard -n "__fish_guard_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c guard -n "__fish_guard_using_subcommand sessions" -l json -d 'Print one JSON document instead of a table'
complete -c guard -n "__fish_guard_using_subcommand sessions" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand show" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand export" -l format -d 'The format to write' -r -f -a "markdown\t'GitHub-flavoured Markdown, ready for a pull request comment'
json\t'One JSON document: the session\'s metadata and every record'
html\t'One self-contained page with the summary and the terminal recording'"
complete -c guard -n "__fish_guard_using_subcommand export" -s o -l output -d 'Write to this file instead of stdout' -r -F
complete -c guard -n "__fish_guard_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c guard -n "__fish_guard_using_subcommand verify" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand replay" -l speed -d 'Playback speed (2 is twice as fast)' -r
complete -c guard -n "__fish_guard_using_subcommand replay" -l idle-limit -d 'Shorten pauses longer than this many seconds' -r
complete -c guard -n "__fish_guard_using_subcommand replay" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand login" -l address -d 'The broker\'s address [default: [broker] address in the configuration, else $VAULT_ADDR, else $BAO_ADDR]' -r
complete -c guard -n "__fish_guard_using_subcommand login" -s c -l config -d 'Configuration file to take the broker from [default: as for `guard run`]' -r -F
complete -c guard -n "__fish_guard_using_subcommand login" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand logout" -l address -d 'The broker\'s address [default: [broker] address in the configuration, else $VAULT_ADDR, else $BAO_ADDR]' -r
complete -c guard -n "__fish_guard_using_subcommand logout" -s c -l config -d 'Configuration file to take the broker from [default: as for `guard run`]' -r -F
complete -c guard -n "__fish_guard_using_subcommand logout" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand doctor" -s c -l config -d 'Configuration file to check [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]' -r -F
complete -c guard -n "__fish_guard_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand demo" -s q -l quiet -d 'Print no banner'
complete -c guard -n "__fish_guard_using_subcommand demo" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand init" -s o -l output -d 'Where to write the configuration' -r -F
complete -c guard -n "__fish_guard_using_subcommand init" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand policy; and not __fish_seen_subcommand_from explain help" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand policy; and not __fish_seen_subcommand_from explain help" -f -a "explain" -d 'Print the class, the reason, the rule that matches and the outcome of a SQL text or an HTTP request, without running it'
complete -c guard -n "__fish_guard_using_subcommand policy; and not __fish_seen_subcommand_from explain help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand policy; and __fish_seen_subcommand_from explain" -l target -d 'Decide as for this target: rules that name another target do not apply' -r
complete -c guard -n "__fish_guard_using_subcommand policy; and __fish_seen_subcommand_from explain" -s c -l config -d 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]' -r -F
complete -c guard -n "__fish_guard_using_subcommand policy; and __fish_seen_subcommand_from explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c guard -n "__fish_guard_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "explain" -d 'Print the class, the reason, the rule that matches and the outcome of a SQL text or an HTTP request, without running it'
complete -c guard -n "__fish_guard_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand completions" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand man" -l dir -d 'Write guard.1 and one page per command into this folder instead of guard.1 to stdout' -r -F
complete -c guard -n "__fish_guard_using_subcommand man" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand approve" -l session -d 'The session: a full id, a unique prefix of one, or `last`' -r
complete -c guard -n "__fish_guard_using_subcommand approve" -l code -d 'The one-time code guard printed with the request on its own terminal' -r
complete -c guard -n "__fish_guard_using_subcommand approve" -l allow -d 'Let the request through, once'
complete -c guard -n "__fish_guard_using_subcommand approve" -l deny -d 'Refuse the request'
complete -c guard -n "__fish_guard_using_subcommand approve" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand mask; and not __fish_seen_subcommand_from test help" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand mask; and not __fish_seen_subcommand_from test help" -f -a "test" -d 'Mask standard input with the configured rules and print it'
complete -c guard -n "__fish_guard_using_subcommand mask; and not __fish_seen_subcommand_from test help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand mask; and __fish_seen_subcommand_from test" -s c -l config -d 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]' -r -F
complete -c guard -n "__fish_guard_using_subcommand mask; and __fish_seen_subcommand_from test" -l json -d 'Print one JSON object, {"text": ..., "masked": {"count": N, "kinds": {...}}}, instead of the masked text'
complete -c guard -n "__fish_guard_using_subcommand mask; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c guard -n "__fish_guard_using_subcommand mask; and __fish_seen_subcommand_from help" -f -a "test" -d 'Mask standard input with the configured rules and print it'
complete -c guard -n "__fish_guard_using_subcommand mask; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "run" -d 'Run a command under guard (the same as `guard [OPTIONS] -- <COMMAND>`)'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "sessions" -d 'List recorded sessions, newest first'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "show" -d 'Print a human summary of one session'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "export" -d 'Write a session as Markdown (for a pull request), JSON or a self-contained HTML page'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "verify" -d 'Check a session\'s transcript chain and files; exit 1 when anything was altered or is missing'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "replay" -d 'Play a session\'s terminal recording; `q` quits'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "login" -d 'Store a broker token in the OS keyring, read from a hidden prompt or from stdin'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "logout" -d 'Remove the broker token `guard login` stored'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "doctor" -d 'Check the configuration, the broker token, each target\'s credentials and upstream; exit 1 when anything is wrong. Prints no secret'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "demo" -d 'Try guard in a minute: a fake customer API behind guard, and a shell to poke it from'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "init" -d 'Write a guard.toml by answering a few questions (needs a terminal)'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "policy" -d 'Inspect the policy: how statements and requests are classified and decided'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "completions" -d 'Print a shell completion script to stdout'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "man" -d 'Write man pages (to stdout, or one file per command into a folder)'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "approve" -d 'List or answer the approval requests of a session run with `--approver socket`'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "mask" -d 'Try the masking rules of the `[mask]` section'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions show export verify replay login logout doctor demo init policy completions man approve mask help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "explain" -d 'Print the class, the reason, the rule that matches and the outcome of a SQL text or an HTTP request, without running it'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from mask" -f -a "test" -d 'Mask standard input with the configured rules and print it'
