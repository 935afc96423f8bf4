//! guard: run an AI coding agent with guarded access to internal services.

mod approval;
mod broker;
mod cli;
mod cmd;
mod config;
mod demo;
mod gateway;
mod mask;
mod policy;
mod record;
mod review;
mod secret;
mod session;
mod terminal;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cmd::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("guard: {}", e.message);
            if let Some(hint) = e.hint {
                eprintln!("hint: {hint}");
            }
            e.code
        }
    };
    std::process::exit(code);
}
