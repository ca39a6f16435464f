//! `POST /auth/refresh` and `GET|POST /auth/logout`: rotation, reuse detection, deny-list.

use crate::helpers::{PASSWORD, TestApp, problem, unique_email};
use futures_util::StreamExt;
use reqwest::StatusCode;
use shop_common::auth::Identity;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_the_pair_within_the_session() {
    let app = TestApp::spawn().await;
    let first = app.register_ok(&unique_email("rot")).await;
    let second = app.refresh_ok(&first.refresh_token).await;
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(second.user, first.user);

    let old = app.verify(&first.access_token).await.unwrap();
    let new = app.verify(&second.access_token).await.unwrap();
    assert_eq!(new.sid, old.sid, "same session (family)");
    assert_ne!(new.jti, old.jti);
    let third = app.refresh_ok(&second.refresh_token).await;
    assert_eq!(app.verify(&third.access_token).await.unwrap().sid, old.sid);

    // Garbage and missing tokens.
    assert_eq!(app.refresh("not-a-token").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh(&"x".repeat(10_000)).await.status(), StatusCode::UNAUTHORIZED);
    let missing = app.client.post(app.url("/auth/refresh")).json(&serde_json::json!({})).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reusing_a_refresh_token_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let email = unique_email("theft");
    let first = app.register_ok(&email).await;
    let sid = app.verify(&first.access_token).await.unwrap().sid;
    let second = app.refresh_ok(&first.refresh_token).await;
    // Another session of the same user must survive the theft response.
    let other = app.login_ok(&email, PASSWORD).await;

    // The thief (or the victim) replays the old token.
    let replay = app.refresh(&first.refresh_token).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem(replay).await["code"], "unauthorized");
    // The newer token of the family is dead too, and so is the Redis session.
    assert_eq!(app.refresh(&second.refresh_token).await.status(), StatusCode::UNAUTHORIZED);
    assert!(!app.redis_exists(&format!("session:{sid}")).await, "the session is deleted");
    let live = app
        .sql_i64(&format!(
            "SELECT count(*) AS value FROM refresh_tokens WHERE family_id = '{sid}' AND revoked_at IS NULL"
        ))
        .await;
    assert_eq!(live, 0, "every token of the family is revoked");

    app.refresh_ok(&other.refresh_token).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_deny_lists_the_access_token_and_ends_the_session() {
    let app = TestApp::spawn().await;
    let tokens = app.register_ok(&unique_email("bye")).await;
    let claims = app.verify(&tokens.access_token).await.unwrap();
    let identity = app.identity(&tokens).await;
    let mut announcements = app.denylist_announcements().await;

    let response = app.logout(&identity, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // The gateways' replicas hear of it (other tests publish on the channel too: find ours).
    let announced_ttl = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let message = announcements.next().await.expect("the subscription stays open");
            let payload: String = message.get_payload().expect("a text payload");
            if let Some((jti, ttl)) = shop_common::auth::denylist::parse_announcement(&payload)
                && jti == claims.jti
            {
                return ttl;
            }
        }
    })
    .await
    .expect("the logout is announced");

    let key = format!("denylist:jti:{}", claims.jti);
    assert!(app.redis_exists(&key).await, "the jti is deny-listed");
    let ttl = app.redis_ttl(&key).await;
    let remaining = claims.exp - chrono::Utc::now().timestamp();
    let limit = remaining + shop_auth::sessions::DENYLIST_LEEWAY_SECS + 1;
    assert!(
        ttl > remaining - 5 && ttl <= limit,
        "TTL {ttl} s covers the token's remaining {remaining} s plus the leeway"
    );
    let announced_ttl = i64::try_from(announced_ttl).unwrap();
    assert!(
        announced_ttl >= ttl && announced_ttl <= limit,
        "announced TTL {announced_ttl} s matches the key's {ttl} s"
    );
    assert!(!app.redis_exists(&format!("session:{}", claims.sid)).await, "the session is gone");
    assert_eq!(app.refresh(&tokens.refresh_token).await.status(), StatusCode::UNAUTHORIZED);

    // Logging out twice is fine.
    assert_eq!(app.logout(&identity, None).await.status(), StatusCode::NO_CONTENT);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_by_get_and_with_a_refresh_token_in_the_body() {
    let app = TestApp::spawn().await;
    let email = unique_email("two");
    let phone = app.register_ok(&email).await;
    let laptop = app.login_ok(&email, PASSWORD).await;
    let stranger = app.register_ok(&unique_email("stranger")).await;

    // GET /auth/logout (the original spec's verb) ends the caller's session.
    let identity = app.identity(&phone).await;
    assert_eq!(app.logout_get(&identity).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.refresh(&phone.refresh_token).await.status(), StatusCode::UNAUTHORIZED);
    app.refresh_ok(&laptop.refresh_token).await;

    // POST with a body also ends the named session if it is the caller's, never someone else's.
    let laptop = app.login_ok(&email, PASSWORD).await;
    let extra = app.login_ok(&email, PASSWORD).await;
    let identity = app.identity(&laptop).await;
    assert_eq!(app.logout(&identity, Some(&extra.refresh_token)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.refresh(&extra.refresh_token).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.logout(&identity, Some(&stranger.refresh_token)).await.status(), StatusCode::NO_CONTENT);
    app.refresh_ok(&stranger.refresh_token).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_for_callers_need_an_identity() {
    let app = TestApp::spawn().await;
    for response in [
        app.client.post(app.url("/auth/logout")).send().await.unwrap(),
        app.client.get(app.url("/auth/profile")).send().await.unwrap(),
        app.client.get(app.url("/auth/users")).send().await.unwrap(),
    ] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(problem(response).await["code"], "unauthorized");
    }
    // Malformed identity headers are refused, not trusted.
    let forged = Identity {
        user_id: uuid::Uuid::new_v4(),
        roles: vec![],
        token_id: None,
        token_expires_at: None,
        session_id: None,
    };
    let response = app
        .client
        .get(app.url("/auth/profile"))
        .header("x-auth-user-id", "not-a-uuid")
        .header("x-auth-roles", "root")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A syntactically fine identity of an account that does not exist: 404, never someone's data.
    assert_eq!(app.get_profile(&forged).await.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
