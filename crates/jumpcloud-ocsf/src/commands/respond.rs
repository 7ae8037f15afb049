//! `jumpcloud-ocsf respond <action> --user <id | username | email> [--group <id | name>]
//! [--org ID] [--dry-run] [--yes] [--reason TEXT]`: containment on a JumpCloud account.
//!
//! Resolves the user (and group), shows what will change on stderr, asks for confirmation on
//! a terminal unless `--yes`, and is idempotent (a user already in the wanted state is a
//! success; a 409 is re-checked). Every run writes one OCSF audit event (Account Change 3001,
//! or Group Management 3006 for `remove-from-group`) with `actor.app_name` = this tool, the
//! operator and the reason, on stdout, and to `--audit-topic` on Kafka when given.
//!
//! Exit status: 0 applied or already in state (or dry run); 1 failed or not confirmed.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use fetcher::actions::{self, ActionOutcome, ResponseAction};
use mapper::OcsfRecord;
use mapper::inventory::{AuditActor, AuditRecordInput, audit_record};
use producer::OcsfProducer;

use crate::config::{AppConfig, TOOL_NAME, TOOL_VERSION};

/// The action, as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ActionArg {
    /// Suspend the user (sign-ins stop).
    Suspend,
    /// Activate a STAGED user, or reactivate a SUSPENDED one.
    Activate,
    /// Unlock a locked account.
    Unlock,
    /// Expire the password (a new one at next sign-in).
    ExpirePassword,
    /// Reset MFA (TOTP re-enrolment).
    ResetMfa,
    /// Remove the user from a user group (`--group`).
    RemoveFromGroup,
}

impl From<ActionArg> for ResponseAction {
    fn from(action: ActionArg) -> Self {
        match action {
            ActionArg::Suspend => ResponseAction::Suspend,
            ActionArg::Activate => ResponseAction::Activate,
            ActionArg::Unlock => ResponseAction::Unlock,
            ActionArg::ExpirePassword => ResponseAction::ExpirePassword,
            ActionArg::ResetMfa => ResponseAction::ResetMfa,
            ActionArg::RemoveFromGroup => ResponseAction::RemoveFromGroup,
        }
    }
}

/// Run a response action on a JumpCloud user.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The action.
    #[arg(value_enum)]
    pub action: ActionArg,
    /// The user: id, username or email.
    #[arg(long, value_name = "ID|USERNAME|EMAIL")]
    pub user: String,
    /// The user group (`remove-from-group`): id or exact name.
    #[arg(long, value_name = "ID|NAME")]
    pub group: Option<String>,
    /// Organisation id (default: the first of `jumpcloud.org_ids`, else the credential's own).
    #[arg(long, value_name = "ID")]
    pub org: Option<String>,
    /// Show what would change and write the audit event (outcome `dry_run`); change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Why (ticket, incident): recorded in the audit event.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Also produce the audit event to this Kafka topic (`[kafka]` of the configuration).
    #[arg(long, env = "JUMPCLOUD_OCSF_AUDIT_TOPIC", value_name = "TOPIC")]
    pub audit_topic: Option<String>,
    /// Who runs the action (default: `$USER`).
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,
    /// Configuration file (TOML); environment variables override it.
    #[arg(long, short, env = "JUMPCLOUD_OCSF_CONFIG")]
    pub config: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    crate::runtime::block_on(run_async(args))
}

fn confirm(prompt: &str) -> Result<bool> {
    eprint!("{prompt} [y/N] ");
    io::stderr().flush()?;
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

fn operator(args: &Args) -> Option<String> {
    args.operator
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|name| !name.is_empty())
}

async fn deliver_audit(config: &AppConfig, topic: &str, record: &OcsfRecord) -> Result<()> {
    let producer = OcsfProducer::for_topic(config.kafka.clone(), topic)
        .await
        .context("starting the Kafka producer of the audit topic")?;
    producer
        .send(record)
        .await
        .with_context(|| format!("producing the audit event to {topic}"))?;
    producer
        .flush(Duration::from_secs(10))
        .context("flushing the audit event")?;
    Ok(())
}

async fn run_async(args: Args) -> Result<bool> {
    let config = AppConfig::load(args.config.as_deref())?;
    let client = config.jumpcloud_client()?;
    let org = args
        .org
        .clone()
        .or_else(|| config.jumpcloud.org_ids.first().cloned())
        .unwrap_or_default();
    let action = ResponseAction::from(args.action);
    if action.needs_group() && args.group.is_none() {
        bail!("{} needs --group <id | name>", action.name());
    }
    let user = actions::resolve_user(&client, &org, &args.user).await?;
    let group = match &args.group {
        Some(needle) if action.needs_group() => {
            Some(actions::resolve_group(&client, &org, needle).await?)
        }
        _ => None,
    };
    let plan = actions::plan(&client, &org, action, user, group).await?;
    let target = format!(
        "user {} (id {}, {})",
        plan.user.username, plan.user.id, plan.user.email
    );
    let group_text = plan
        .group
        .as_ref()
        .map(|g| format!(" from group {} ({})", g.name, g.id))
        .unwrap_or_default();
    let org_text = if org.is_empty() {
        "the credential's organisation".to_owned()
    } else {
        format!("organisation {org}")
    };
    if plan.already_done {
        eprintln!(
            "{}: {target}{group_text} in {org_text} already is in the wanted state; nothing to change",
            action.name()
        );
    } else {
        eprintln!(
            "{}: {target}{group_text} in {org_text}: {}",
            action.name(),
            plan.change
        );
    }

    let (outcome, error) = if args.dry_run {
        ("dry_run", None)
    } else if plan.already_done {
        (ActionOutcome::AlreadyInState.as_str(), None)
    } else {
        if !args.yes {
            if !io::stdin().is_terminal() {
                bail!("refusing to act without confirmation: stdin is not a terminal; pass --yes");
            }
            if !confirm("Proceed?")? {
                eprintln!("not confirmed; nothing changed");
                return Ok(false);
            }
        }
        match actions::execute(&client, &plan).await {
            Ok(outcome) => (outcome.as_str(), None),
            Err(err) => ("failed", Some(err.to_string())),
        }
    };

    let actor = AuditActor {
        tool_name: TOOL_NAME.to_owned(),
        tool_version: TOOL_VERSION.to_owned(),
        operator: operator(&args),
    };
    let record = audit_record(&AuditRecordInput {
        action: action.name(),
        tenant_uid: Some(org.as_str()).filter(|o| !o.is_empty()),
        user: &plan.user.record,
        user_id: &plan.user.id,
        group: plan
            .group
            .as_ref()
            .map(|g| (g.id.as_str(), g.name.as_str())),
        outcome,
        change: &plan.change,
        error: error.as_deref(),
        reason: args.reason.as_deref(),
        actor: &actor,
        time_ms: chrono::Utc::now().timestamp_millis(),
    });
    {
        let mut stdout = io::stdout().lock();
        stdout.write_all(&record.json)?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    if let Some(topic) = &args.audit_topic
        && !args.dry_run
    {
        deliver_audit(&config, topic, &record).await?;
    }
    match error {
        Some(error) => {
            eprintln!("error: {error}");
            Ok(false)
        }
        None => {
            eprintln!("{}: {outcome}", action.name());
            Ok(true)
        }
    }
}
