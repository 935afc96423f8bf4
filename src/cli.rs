//! The command line, as clap types only: the doc comments are the help text, and the shell
//! completions in `completions/` and the man pages in `man/` are generated from these types.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run an AI coding agent (or any command) with guarded access to internal services.
///
/// guard runs the command under a pseudo-terminal it relays and records, strips credentials from
/// its environment, and leaves a hash-chained transcript and an asciicast recording behind.
#[derive(Debug, Parser)]
#[command(
    name = "guard",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:\n  guard -- claude\n  guard -n fix-bug -- bash\n  guard sessions\n  guard verify last"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command under guard (the same as `guard [OPTIONS] -- <COMMAND>`).
    Run(RunArgs),
    /// List recorded sessions, newest first.
    Sessions(SessionsArgs),
    /// Print a human summary of one session.
    Show(ShowArgs),
    /// Write a session as Markdown (for a pull request), JSON or a self-contained HTML page.
    Export(ExportArgs),
    /// Check a session's transcript chain and files; exit 1 when anything was altered or is missing.
    Verify(VerifyArgs),
    /// Play a session's terminal recording; `q` quits.
    Replay(ReplayArgs),
    /// Store a broker token in the OS keyring, read from a hidden prompt or from stdin.
    Login(LoginArgs),
    /// Remove the broker token `guard login` stored.
    Logout(LogoutArgs),
    /// Check the configuration, the broker token, each target's credentials and upstream;
    /// exit 1 when anything is wrong. Prints no secret.
    Doctor(DoctorArgs),
    /// Try guard in a minute: a fake customer API behind guard, and a shell to poke it from.
    Demo(DemoArgs),
    /// Write a guard.toml by answering a few questions (needs a terminal).
    Init(InitArgs),
    /// Inspect the policy: how statements and requests are classified and decided.
    Policy(PolicyArgs),
    /// Print a shell completion script to stdout.
    Completions(CompletionsArgs),
    /// Write man pages (to stdout, or one file per command into a folder).
    Man(ManArgs),
    /// List or answer the approval requests of a session run with `--approver socket`.
    Approve(ApproveArgs),
    /// Try the masking rules of the `[mask]` section.
    Mask(MaskArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml].
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// A label for the session, shown by `guard sessions`.
    #[arg(short, long, value_name = "NAME")]
    pub name: Option<String>,

    /// Where approval requests go [default: tty when stdin and stdout are terminals, else deny].
    #[arg(long, value_enum, value_name = "APPROVER")]
    pub approver: Option<Approver>,

    /// How long an approval request waits before it is rejected (e.g. 60s, 2m, 500ms).
    #[arg(long, value_name = "DUR", default_value = "60s", value_parser = parse_duration)]
    pub approval_timeout: std::time::Duration,

    /// Also record keystrokes in the cast (off by default: they can hold secrets).
    #[arg(long)]
    pub record_input: bool,

    /// Write no asciicast recording (the transcript is always written).
    #[arg(long)]
    pub no_cast: bool,

    /// Print no banner on stderr.
    #[arg(short, long)]
    pub quiet: bool,

    /// The command to run and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Approver {
    /// Ask in guard's own terminal, over the agent's screen.
    Tty,
    /// Serve `guard approve` from another terminal over a unix socket.
    Socket,
    /// Reject every request that would ask.
    Deny,
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A session id, a unique prefix of one, or `last`.
    #[arg(value_name = "SESSION")]
    pub session: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A session id, a unique prefix of one, or `last`.
    #[arg(value_name = "SESSION")]
    pub session: String,

    /// The format to write.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: ExportFormat,

    /// Write to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// GitHub-flavoured Markdown, ready for a pull request comment.
    Markdown,
    /// One JSON document: the session's metadata and every record.
    Json,
    /// One self-contained page with the summary and the terminal recording.
    Html,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A session id, a unique prefix of one, or `last`.
    #[arg(value_name = "SESSION")]
    pub session: String,

    /// Playback speed (2 is twice as fast).
    #[arg(long, value_name = "X", default_value = "1", value_parser = parse_speed)]
    pub speed: f64,

    /// Shorten pauses longer than this many seconds.
    #[arg(long, value_name = "SECS")]
    pub idle_limit: Option<f64>,
}

/// A playback speed: a positive number.
fn parse_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("`{text}` is not a positive number")),
    }
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A session id, a unique prefix of one, or `last`.
    #[arg(value_name = "SESSION")]
    pub session: String,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("answer").args(["allow", "deny"]).requires_all(["request", "code"]))]
pub struct ApproveArgs {
    /// The session: a full id, a unique prefix of one, or `last`.
    #[arg(long, value_name = "SESSION", default_value = "last")]
    pub session: String,

    /// The request to answer; without it, the pending requests are listed.
    #[arg(value_name = "REQUEST", requires = "answer")]
    pub request: Option<String>,

    /// Let the request through, once.
    #[arg(long)]
    pub allow: bool,

    /// Refuse the request.
    #[arg(long)]
    pub deny: bool,

    /// The one-time code guard printed with the request on its own terminal.
    #[arg(long, value_name = "CODE")]
    pub code: Option<String>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "The token is checked with the broker before it is stored, one entry per \
broker address. GUARD_KEYRING=file keeps it in a 0600 file under GUARD_HOME instead (headless \
machines); GUARD_KEYRING=none disables the keyring.\n\nExamples:\n  guard login\n  \
printf %s \"$TOKEN\" | guard login --address https://bao.internal:8200"
)]
pub struct LoginArgs {
    /// The broker's address [default: [broker] address in the configuration, else $VAULT_ADDR,
    /// else $BAO_ADDR].
    #[arg(long, value_name = "URL")]
    pub address: Option<String>,

    /// Configuration file to take the broker from [default: as for `guard run`].
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The broker's address [default: [broker] address in the configuration, else $VAULT_ADDR,
    /// else $BAO_ADDR].
    #[arg(long, value_name = "URL")]
    pub address: Option<String>,

    /// Configuration file to take the broker from [default: as for `guard run`].
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print no banner.
    #[arg(short, long)]
    pub quiet: bool,

    /// The command to run [default: $SHELL].
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the configuration.
    #[arg(short, long, value_name = "FILE", default_value = "guard.toml")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Configuration file to check [default: $GUARD_CONFIG, ./guard.toml,
    /// $XDG_CONFIG_HOME/guard/config.toml].
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print the class, the reason, the rule that matches and the outcome of a SQL text or an
    /// HTTP request, without running it.
    ///
    /// A SQL batch gets one line per statement and the batch's overall outcome. A text is an
    /// HTTP request when it reads "METHOD /path", e.g. "DELETE /customers/7".
    #[command(
        after_help = "Examples:\n  guard policy explain 'DELETE FROM customers'\n  guard policy explain --target shop 'SELECT 1; DROP TABLE t'\n  guard policy explain --target billing 'POST /invoices'"
    )]
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The SQL statement or batch, or the HTTP request as "METHOD /path".
    #[arg(value_name = "TEXT", allow_hyphen_values = true)]
    pub text: String,

    /// Decide as for this target: rules that name another target do not apply.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,

    /// Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml].
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MaskArgs {
    #[command(subcommand)]
    pub command: MaskCommand,
}

#[derive(Debug, Subcommand)]
pub enum MaskCommand {
    /// Mask standard input with the configured rules and print it.
    ///
    /// Text goes through the detectors (email, credit_card, ssn, phone, iban, jwt, private_key,
    /// aws_key, github_token, gitlab_token, slack_token, stripe_key, openai_key, anthropic_key,
    /// generic_secret; phone only when listed). A line that is a JSON object or array is masked
    /// as JSON and printed compact: values under keys that match a `columns` glob are masked
    /// whole, everything else by the detectors.
    #[command(
        after_help = "Examples:\n  echo 'mail bob@example.com' | guard mask test\n  \
                            guard mask test --json < response.json"
    )]
    Test(MaskTestArgs),
}

#[derive(Debug, Args)]
pub struct MaskTestArgs {
    /// Print one JSON object, {"text": ..., "masked": {"count": N, "kinds": {...}}}, instead of
    /// the masked text.
    #[arg(long)]
    pub json: bool,

    /// Configuration file [default: $GUARD_CONFIG, ./guard.toml, $XDG_CONFIG_HOME/guard/config.toml].
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write guard.1 and one page per command into this folder instead of guard.1 to stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Parses `60s`, `2m`, `500ms`, `1h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. 60s, 2m or 500ms"))?;
    let ms = match unit {
        "ms" => n,
        "" | "s" => n.saturating_mul(1000),
        "m" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}`; use ms, s, m or h"
            ));
        }
    };
    Ok(std::time::Duration::from_millis(ms))
}

/// The clap command, for completions and man pages.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("60s").unwrap().as_secs(), 60);
        assert_eq!(parse_duration("2m").unwrap().as_secs(), 120);
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_duration("7").unwrap().as_secs(), 7);
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn mask_test_is_a_subcommand_not_a_command_to_run() {
        let cli = Cli::try_parse_from(["guard", "mask", "test", "--json", "-c", "g.toml"]).unwrap();
        let Some(Command::Mask(MaskArgs {
            command: MaskCommand::Test(args),
        })) = cli.command
        else {
            panic!("not `mask test`: {cli:?}");
        };
        assert!(args.json);
        assert_eq!(args.config.as_deref(), Some(std::path::Path::new("g.toml")));
    }

    #[test]
    fn options_before_the_separator_belong_to_guard() {
        let cli = Cli::try_parse_from(["guard", "-q", "--", "ls", "-q", "--color"]).unwrap();
        assert!(cli.command.is_none());
        assert!(cli.run.quiet);
        assert_eq!(cli.run.command, ["ls", "-q", "--color"]);
    }
}
