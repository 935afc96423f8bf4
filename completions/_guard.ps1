
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'guard' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'guard'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'guard' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'A label for the session, shown by `guard sessions`')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'A label for the session, shown by `guard sessions`')
            [CompletionResult]::new('--approver', '--approver', [CompletionResultType]::ParameterName, 'Where approval requests go [default: tty when stdin and stdout are terminals, else deny]')
            [CompletionResult]::new('--approval-timeout', '--approval-timeout', [CompletionResultType]::ParameterName, 'How long an approval request waits before it is rejected (e.g. 60s, 2m, 500ms)')
            [CompletionResult]::new('--record-input', '--record-input', [CompletionResultType]::ParameterName, 'Also record keystrokes in the cast (off by default: they can hold secrets)')
            [CompletionResult]::new('--no-cast', '--no-cast', [CompletionResultType]::ParameterName, 'Write no asciicast recording (the transcript is always written)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no banner on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no banner on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a command under guard (the same as `guard [OPTIONS] -- <COMMAND>`)')
            [CompletionResult]::new('sessions', 'sessions', [CompletionResultType]::ParameterValue, 'List recorded sessions, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print a human summary of one session')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write a session as Markdown (for a pull request), JSON or a self-contained HTML page')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check a session''s transcript chain and files; exit 1 when anything was altered or is missing')
            [CompletionResult]::new('replay', 'replay', [CompletionResultType]::ParameterValue, 'Play a session''s terminal recording; `q` quits')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Store a broker token in the OS keyring, read from a hidden prompt or from stdin')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Remove the broker token `guard login` stored')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check the configuration, the broker token, each target''s credentials and upstream; exit 1 when anything is wrong. Prints no secret')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Try guard in a minute: a fake customer API behind guard, and a shell to poke it from')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a guard.toml by answering a few questions (needs a terminal)')
            [CompletionResult]::new('policy', 'policy', [CompletionResultType]::ParameterValue, 'Inspect the policy: how statements and requests are classified and decided')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script to stdout')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write man pages (to stdout, or one file per command into a folder)')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'List or answer the approval requests of a session run with `--approver socket`')
            [CompletionResult]::new('mask', 'mask', [CompletionResultType]::ParameterValue, 'Try the masking rules of the `[mask]` section')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'guard;run' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'A label for the session, shown by `guard sessions`')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'A label for the session, shown by `guard sessions`')
            [CompletionResult]::new('--approver', '--approver', [CompletionResultType]::ParameterName, 'Where approval requests go [default: tty when stdin and stdout are terminals, else deny]')
            [CompletionResult]::new('--approval-timeout', '--approval-timeout', [CompletionResultType]::ParameterName, 'How long an approval request waits before it is rejected (e.g. 60s, 2m, 500ms)')
            [CompletionResult]::new('--record-input', '--record-input', [CompletionResultType]::ParameterName, 'Also record keystrokes in the cast (off by default: they can hold secrets)')
            [CompletionResult]::new('--no-cast', '--no-cast', [CompletionResultType]::ParameterName, 'Write no asciicast recording (the transcript is always written)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no banner on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no banner on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'guard;sessions' {
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document instead of a table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'guard;show' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'guard;export' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'The format to write')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write to this file instead of stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write to this file instead of stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'guard;verify' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'guard;replay' {
            [CompletionResult]::new('--speed', '--speed', [CompletionResultType]::ParameterName, 'Playback speed (2 is twice as fast)')
            [CompletionResult]::new('--idle-limit', '--idle-limit', [CompletionResultType]::ParameterName, 'Shorten pauses longer than this many seconds')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'guard;login' {
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The broker''s address [default: [broker] address in the configuration, else $VAULT_ADDR, else $BAO_ADDR]')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file to take the broker from [default: as for `guard run`]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file to take the broker from [default: as for `guard run`]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'guard;logout' {
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The broker''s address [default: [broker] address in the configuration, else $VAULT_ADDR, else $BAO_ADDR]')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file to take the broker from [default: as for `guard run`]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file to take the broker from [default: as for `guard run`]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'guard;doctor' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file to check [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file to check [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'guard;demo' {
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no banner')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no banner')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'guard;init' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where to write the configuration')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where to write the configuration')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'guard;policy' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Print the class, the reason, the rule that matches and the outcome of a SQL text or an HTTP request, without running it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'guard;policy;explain' {
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Decide as for this target: rules that name another target do not apply')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'guard;policy;help' {
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Print the class, the reason, the rule that matches and the outcome of a SQL text or an HTTP request, without running it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'guard;policy;help;explain' {
            break
        }
        'guard;policy;help;help' {
            break
        }
        'guard;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'guard;man' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write guard.1 and one page per command into this folder instead of guard.1 to stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'guard;approve' {
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'The session: a full id, a unique prefix of one, or `last`')
            [CompletionResult]::new('--code', '--code', [CompletionResultType]::ParameterName, 'The one-time code guard printed with the request on its own terminal')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Let the request through, once')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Refuse the request')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'guard;mask' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Mask standard input with the configured rules and print it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'guard;mask;test' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object, {"text": ..., "masked": {"count": N, "kinds": {...}}}, instead of the masked text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'guard;mask;help' {
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Mask standard input with the configured rules and print it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'guard;mask;help;test' {
            break
        }
        'guard;mask;help;help' {
            break
        }
        'guard;help' {
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a command under guard (the same as `guard [OPTIONS] -- <COMMAND>`)')
            [CompletionResult]::new('sessions', 'sessions', [CompletionResultType]::ParameterValue, 'List recorded sessions, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print a human summary of one session')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write a session as Markdown (for a pull request), JSON or a self-contained HTML page')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check a session''s transcript chain and files; exit 1 when anything was altered or is missing')
            [CompletionResult]::new('replay', 'replay', [CompletionResultType]::ParameterValue, 'Play a session''s terminal recording; `q` quits')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Store a broker token in the OS keyring, read from a hidden prompt or from stdin')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Remove the broker token `guard login` stored')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check the configuration, the broker token, each target''s credentials and upstream; exit 1 when anything is wrong. Prints no secret')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Try guard in a minute: a fake customer API behind guard, and a shell to poke it from')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a guard.toml by answering a few questions (needs a terminal)')
            [CompletionResult]::new('policy', 'policy', [CompletionResultType]::ParameterValue, 'Inspect the policy: how statements and requests are classified and decided')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script to stdout')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write man pages (to stdout, or one file per command into a folder)')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'List or answer the approval requests of a session run with `--approver socket`')
            [CompletionResult]::new('mask', 'mask', [CompletionResultType]::ParameterValue, 'Try the masking rules of the `[mask]` section')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'guard;help;run' {
            break
        }
        'guard;help;sessions' {
            break
        }
        'guard;help;show' {
            break
        }
        'guard;help;export' {
            break
        }
        'guard;help;verify' {
            break
        }
        'guard;help;replay' {
            break
        }
        'guard;help;login' {
            break
        }
        'guard;help;logout' {
            break
        }
        'guard;help;doctor' {
            break
        }
        'guard;help;demo' {
            break
        }
        'guard;help;init' {
            break
        }
        'guard;help;policy' {
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Print the class, the reason, the rule that matches and the outcome of a SQL text or an HTTP request, without running it')
            break
        }
        'guard;help;policy;explain' {
            break
        }
        'guard;help;completions' {
            break
        }
        'guard;help;man' {
            break
        }
        'guard;help;approve' {
            break
        }
        'guard;help;mask' {
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Mask standard input with the configured rules and print it')
            break
        }
        'guard;help;mask;test' {
            break
        }
        'guard;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
