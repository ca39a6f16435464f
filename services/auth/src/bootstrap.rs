//! The first admin: created at start from `ADMIN_EMAIL`/`ADMIN_PASSWORD` if that account does not
//! exist yet. Once only: later starts (and concurrent replicas) leave an existing account alone,
//! whatever its role or password is by then.

use crate::db::users::{self, NewUser};
use crate::domain::UserId;
use crate::events::{self, UserRegistered};
use crate::passwords::Passwords;
use crate::settings::AdminAccount;
use anyhow::Context;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use shop_common::auth::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created(UserId),
    AlreadyExists,
}

pub async fn ensure_admin(
    conn: &mut AsyncPgConnection,
    passwords: &Passwords,
    admin: &AdminAccount,
) -> anyhow::Result<Outcome> {
    if users::email_exists(conn, &admin.email).await? {
        return Ok(Outcome::AlreadyExists);
    }
    let hash = passwords
        .hash(admin.password.expose().to_owned())
        .await
        .map_err(|err| anyhow::anyhow!("hashing the admin password: {err}"))?;
    let id = UserId::new();
    // ON CONFLICT DO NOTHING: a replica starting at the same moment may have won the race.
    let created = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let Some(row) = users::insert_if_absent(
                conn,
                &NewUser {
                    id: id.0,
                    email: &admin.email,
                    name: &admin.name,
                    password_hash: &hash,
                    role: Role::Admin.as_str(),
                },
            )
            .await?
            else {
                return Ok(false);
            };
            let event = UserRegistered {
                user_id: row.id(),
                email: row.email.clone(),
                name: row.name.clone(),
                registered_at: row.created_at,
            };
            events::user_registered(conn, &event).await?;
            Ok(true)
        })
        .await
        .context("creating the bootstrap admin")?;
    if created {
        tracing::info!(user.id = %id, "bootstrap admin created");
        Ok(Outcome::Created(id))
    } else {
        Ok(Outcome::AlreadyExists)
    }
}
