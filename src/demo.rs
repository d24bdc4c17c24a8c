//! The demo (`pufa serve --demo`): organizer `admin` and the demo month. Everything it creates
//! says it is demo data (示例).

use crate::accounts::{self, Role};
use crate::config::Config;
use crate::db::Db;

/// Load the demo into the database. Idempotent: an existing `admin` is left as it is.
pub async fn load(db: &Db, config: &Config) -> anyhow::Result<()> {
    if !db.username_exists("admin").await? {
        let (password, generated) = match &config.admin_password {
            Some(p) => (p.clone(), false),
            None => (crate::http::session::random_token()[..16].to_string(), true),
        };
        let to_hash = password.clone();
        let hash = tokio::task::spawn_blocking(move || accounts::hash_password(&to_hash)).await??;
        db.insert_staff(Role::Organizer, "admin", "工商联管理员（示例）", &hash)
            .await?;
        if generated {
            // Printed once, on the terminal only; it is not stored anywhere in clear.
            println!("demo organizer account: admin / {password}  (set PUFA_ADMIN_PASSWORD to choose it)");
        } else {
            println!("demo organizer account: admin (password from PUFA_ADMIN_PASSWORD)");
        }
    }
    Ok(())
}
