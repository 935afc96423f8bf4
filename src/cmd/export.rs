//! `guard export <SESSION> [--format markdown|json|html] [-o FILE]`.

use std::io::Write;

use crate::cli::{ExportArgs, ExportFormat};
use crate::cmd::{CliError, resolve_session};
use crate::review::{Session, export, html};

pub fn cmd_export(args: ExportArgs) -> Result<i32, CliError> {
    let (id, dir) = resolve_session(&args.session)?;
    let session = Session::load(id, dir);
    let text = match args.format {
        ExportFormat::Markdown => export::markdown(&session),
        ExportFormat::Json => export::json(&session),
        ExportFormat::Html => html::render(&session),
    };
    let written = match &args.output {
        Some(path) => std::fs::write(path, text.as_bytes()),
        None => std::io::stdout().lock().write_all(text.as_bytes()),
    };
    written.map_err(|e| {
        let to = args
            .output
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "stdout".into());
        CliError::new(1, format!("cannot write the export to {to}: {e}"))
            .hint("check the path and free space")
    })?;
    Ok(0)
}
