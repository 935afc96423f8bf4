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
complete -c guard -n "__fish_guard_needs_command" -a "verify" -d 'Check a session\'s transcript chain and files; exit 1 when anything was altered or is missing'
complete -c guard -n "__fish_guard_needs_command" -a "policy" -d 'Inspect the policy: how statements and requests are classified and decided'
complete -c guard -n "__fish_guard_needs_command" -a "completions" -d 'Print a shell completion script to stdout'
complete -c guard -n "__fish_guard_needs_command" -a "man" -d 'Write man pages (to stdout, or one file per command into a folder)'
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
complete -c guard -n "__fish_guard_using_subcommand verify" -s h -l help -d 'Print help'
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
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions verify policy completions man help" -f -a "run" -d 'Run a command under guard (the same as `guard [OPTIONS] -- <COMMAND>`)'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions verify policy completions man help" -f -a "sessions" -d 'List recorded sessions, newest first'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions verify policy completions man help" -f -a "verify" -d 'Check a session\'s transcript chain and files; exit 1 when anything was altered or is missing'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions verify policy completions man help" -f -a "policy" -d 'Inspect the policy: how statements and requests are classified and decided'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions verify policy completions man help" -f -a "completions" -d 'Print a shell completion script to stdout'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions verify policy completions man help" -f -a "man" -d 'Write man pages (to stdout, or one file per command into a folder)'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from run sessions verify policy completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "explain" -d 'Print the class, the reason, the rule that matches and the outcome of a SQL text or an HTTP request, without running it'
