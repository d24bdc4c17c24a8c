use anyhow::Context;
use clap::Parser;
use pufa::app::accounts::{self as staff, AccountsError, NewStaff};
use pufa::config::{AdminCommand, Cli, Command, Config, StaffRole};
use pufa::db::Db;
use std::io::Read;
use tracing_subscriber::EnvFilter;

fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    // colours only for a person at a terminal: in files and journald they are noise
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutdown requested");
}

/// A password from standard input, without the line break a terminal or `echo` adds.
fn read_password() -> anyhow::Result<String> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from standard input")?;
    Ok(password.trim_end_matches(['\r', '\n']).to_string())
}

/// An account error as the command line says it: the Chinese message, with each field's.
fn cli_error(e: AccountsError) -> anyhow::Error {
    match e {
        AccountsError::Invalid(errors) => {
            let parts: Vec<&str> = errors.0.iter().map(|f| f.message.as_str()).collect();
            anyhow::anyhow!("{}", parts.join("；"))
        }
        AccountsError::Internal(e) => e,
        other => anyhow::anyhow!("{}", other.message_zh()),
    }
}

/// `pufa admin …`: staff accounts on the command line (no organizer needed: whoever runs it
/// owns the data directory). Audit entries have no actor.
async fn admin(db: &Db, command: AdminCommand) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match command {
        AdminCommand::AddUser {
            role,
            name,
            display_name,
        } => {
            let role = match role {
                StaffRole::Organizer => "organizer",
                StaffRole::Lawyer => "lawyer",
            };
            let input = NewStaff {
                role: role.into(),
                username: name,
                display_name: display_name.unwrap_or_default(),
                password: read_password()?,
            };
            let account =
                staff::create_staff(db, now, None, &input)
                    .await
                    .map_err(|e| match e {
                        AccountsError::UsernameTaken => {
                            anyhow::anyhow!("用户名 {} 已存在", input.username)
                        }
                        other => cli_error(other),
                    })?;
            println!(
                "created {role} account {} (id {})",
                account.username, account.id
            );
        }
        AdminCommand::ResetPassword { name } => {
            let account = staff::staff_named(db, &name).await.map_err(cli_error)?;
            let password = read_password()?;
            if password.is_empty() {
                anyhow::bail!("请在标准输入中提供新密码");
            }
            staff::reset_staff_password(db, now, None, account.id, Some(&password))
                .await
                .map_err(cli_error)?;
            println!("password of {name} reset; its login sessions have ended");
        }
        AdminCommand::ListUsers => {
            println!(
                "{:<8} {:<10} {:<24} {:<8} {:<17} DISPLAY NAME",
                "ID", "ROLE", "LOGIN", "STATE", "LAST LOGIN"
            );
            for a in db.staff_accounts().await? {
                let last = a
                    .last_login_at
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "-".into());
                let state = if a.is_active() { "active" } else { "disabled" };
                println!(
                    "{:<8} {:<10} {:<24} {:<8} {:<17} {}",
                    a.id, a.role, a.username, state, last, a.display_name
                );
            }
            println!("enterprises: {}", db.enterprise_count().await?);
        }
        AdminCommand::Disable { name } => {
            let account = staff::staff_named(db, &name).await.map_err(cli_error)?;
            staff::set_staff_disabled(db, now, None, account.id, true)
                .await
                .map_err(cli_error)?;
            println!("{name} disabled; its login sessions have ended");
        }
        AdminCommand::Enable { name } => {
            let account = staff::staff_named(db, &name).await.map_err(cli_error)?;
            staff::set_staff_disabled(db, now, None, account.id, false)
                .await
                .map_err(cli_error)?;
            println!("{name} enabled");
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            init_tracing(args.log_format == pufa::config::LogFormat::Json);
            let mut config = Config::from_args(&args);
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("cannot listen on {}", args.listen))?;
            if args.public_url.is_none() {
                // the address actually bound (a port of 0 is chosen by the system)
                let bound = listener.local_addr()?;
                config.public_url = pufa::config::PublicUrl::for_listen(bound);
                if bound.ip().is_unspecified() {
                    tracing::warn!(public_url = %config.public_url,
                        "no --public-url (PUFA_PUBLIC_URL) given: calendar links will not open elsewhere");
                }
            }
            println!("pufa serving on http://{}", listener.local_addr()?);
            pufa::serve(config, listener, shutdown_signal()).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Worker(args) => {
            init_tracing(args.serve.log_format == pufa::config::LogFormat::Json);
            let config = Config::from_args(&args.serve);
            pufa::work(
                config,
                &args.kinds,
                || println!("pufa worker running"),
                shutdown_signal(),
            )
            .await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Admin { storage, command } => {
            init_tracing(false);
            let db = Db::connect(storage.database_url.as_deref(), &storage.data).await?;
            admin(&db, command).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Transcode { input, out, ladder } => {
            let code = tokio::task::spawn_blocking(move || {
                pufa::media::cli::run(&input, &out, ladder.as_deref())
            })
            .await?;
            Ok(code)
        }
        Command::Backup {
            storage,
            media,
            file,
        } => {
            init_tracing(false);
            if storage.media_storage != pufa::media::storage::StorageUrl::Local {
                anyhow::bail!(
                    "pufa backup copies the local media folder; media in a bucket is backed up \
                     with the bucket's own tools (versioning, replication)"
                );
            }
            let summary = pufa::app::backup::backup(&storage.data, &media, &file).await?;
            for warning in &summary.warnings {
                eprintln!("warning: {warning}");
            }
            println!(
                "backup written to {}: database and {} media files ({} published versions), {} bytes",
                file.display(),
                summary.files - 1,
                summary.versions,
                summary.bytes
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Restore { file, data, media } => {
            init_tracing(false);
            let summary = pufa::app::backup::restore(&file, &data, &media)?;
            println!(
                "restored the backup of {} into {} and {}: {} files, {} bytes, all checksums match",
                summary.created_at,
                data.display(),
                media.display(),
                summary.files,
                summary.bytes
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}
