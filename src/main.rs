use anyhow::Context;
use clap::Parser;
use pufa::accounts::{self, Role};
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
        Command::Admin { storage, command } => {
            init_tracing(false);
            let db = Db::open(&storage.data).await?;
            match command {
                AdminCommand::AddUser {
                    role,
                    name,
                    display_name,
                } => {
                    accounts::check_username(&name).map_err(anyhow::Error::msg)?;
                    let mut password = String::new();
                    std::io::stdin()
                        .read_to_string(&mut password)
                        .context("reading the password from standard input")?;
                    let password = password.trim_end_matches(['\r', '\n']).to_string();
                    let mut errors = pufa::validation::FieldErrors::default();
                    accounts::check_password(&password, &mut errors);
                    if let Some(msg) = errors.get("password") {
                        anyhow::bail!("{msg}");
                    }
                    let role = match role {
                        StaffRole::Organizer => Role::Organizer,
                        StaffRole::Lawyer => Role::Lawyer,
                    };
                    let hash = pufa::app::login::hash_password(password).await?;
                    let display = display_name.unwrap_or_else(|| name.clone());
                    match db.insert_staff(role, &name, &display, &hash).await {
                        Ok(id) => println!("created {} account {name} (id {id})", role.as_str()),
                        Err(e)
                            if pufa::db::violated_unique_constraint(&e).as_deref()
                                == Some(pufa::db::USERS_USERNAME_KEY) =>
                        {
                            anyhow::bail!("用户名 {name} 已存在")
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
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
