
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
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check a session''s transcript chain and files; exit 1 when anything was altered or is missing')
            [CompletionResult]::new('policy', 'policy', [CompletionResultType]::ParameterValue, 'Inspect the policy: how statements and requests are classified and decided')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script to stdout')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write man pages (to stdout, or one file per command into a folder)')
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
        'guard;verify' {
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
        'guard;help' {
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a command under guard (the same as `guard [OPTIONS] -- <COMMAND>`)')
            [CompletionResult]::new('sessions', 'sessions', [CompletionResultType]::ParameterValue, 'List recorded sessions, newest first')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check a session''s transcript chain and files; exit 1 when anything was altered or is missing')
            [CompletionResult]::new('policy', 'policy', [CompletionResultType]::ParameterValue, 'Inspect the policy: how statements and requests are classified and decided')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script to stdout')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write man pages (to stdout, or one file per command into a folder)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'guard;help;run' {
            break
        }
        'guard;help;sessions' {
            break
        }
        'guard;help;verify' {
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
        'guard;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
