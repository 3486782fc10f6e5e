//! Client authentication on the proxy's side: SCRAM-SHA-256 (RFC 5802/7677 as
//! PostgreSQL uses it, without channel binding) and MD5.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use md5::Md5;
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const SCRAM_ITERATIONS: u32 = 4096;

/// A stored SCRAM-SHA-256 verifier.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramSecret {
    /// PBKDF2 iteration count.
    pub iterations: u32,
    /// Salt.
    pub salt: Vec<u8>,
    /// H(ClientKey).
    pub stored_key: [u8; 32],
    /// HMAC(SaltedPassword, "Server Key").
    pub server_key: [u8; 32],
}

impl std::fmt::Debug for ScramSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScramSecret(..)")
    }
}

/// What the proxy stores to check a user's password.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// A SCRAM verifier, from a plain password or a `SCRAM-SHA-256$...` string.
    Scram(ScramSecret),
    /// `md5` followed by md5(password || user) in hex.
    Md5(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Scram(_) => f.write_str("Secret::Scram(..)"),
            Secret::Md5(_) => f.write_str("Secret::Md5(..)"),
        }
    }
}

/// True when a configured password is already a verifier or hash, not plain text.
pub fn is_hashed(password: &str) -> bool {
    password.starts_with("SCRAM-SHA-256$") || is_md5_hash(password)
}

fn is_md5_hash(password: &str) -> bool {
    password.len() == 35 && password.starts_with("md5") && password[3..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn md5_hex(parts: &[&[u8]]) -> String {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Secret {
    /// A SCRAM secret from a plain password (new random salt) or a PostgreSQL
    /// verifier `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
    pub fn for_scram(password: &str) -> Result<Secret, String> {
        if let Some(rest) = password.strip_prefix("SCRAM-SHA-256$") {
            return parse_verifier(rest)
                .map(Secret::Scram)
                .ok_or_else(|| "is not a valid SCRAM-SHA-256 verifier".to_owned());
        }
        if is_md5_hash(password) {
            return Err("an md5 hash cannot be used with scram-sha-256 authentication".into());
        }
        let mut salt = vec![0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        Ok(Secret::Scram(scram_from_password(password, &salt, SCRAM_ITERATIONS)))
    }

    /// An MD5 secret from a plain password or an `md5...` hash.
    pub fn for_md5(user: &str, password: &str) -> Result<Secret, String> {
        if password.starts_with("SCRAM-SHA-256$") {
            return Err("a SCRAM verifier cannot be used with md5 authentication".into());
        }
        if is_md5_hash(password) {
            return Ok(Secret::Md5(password.to_ascii_lowercase()));
        }
        Ok(Secret::Md5(format!(
            "md5{}",
            md5_hex(&[password.as_bytes(), user.as_bytes()])
        )))
    }
}

fn scram_from_password(password: &str, salt: &[u8], iterations: u32) -> ScramSecret {
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    ScramSecret {
        iterations,
        salt: salt.to_vec(),
        stored_key: Sha256::digest(client_key).into(),
        server_key: hmac(&salted, b"Server Key"),
    }
}

fn parse_verifier(rest: &str) -> Option<ScramSecret> {
    let (iter_salt, keys) = rest.split_once('$')?;
    let (iterations, salt) = iter_salt.split_once(':')?;
    let (stored, server) = keys.split_once(':')?;
    Some(ScramSecret {
        iterations: iterations.parse().ok()?,
        salt: B64.decode(salt).ok()?,
        stored_key: B64.decode(stored).ok()?.try_into().ok()?,
        server_key: B64.decode(server).ok()?.try_into().ok()?,
    })
}

/// A secret that matches no password, used so that unknown users take the
/// same path (and time) as known ones, as PostgreSQL does. It is derived
/// from the proxy's own secret `key` and the user name, so the same unknown
/// name always gets the same salt, as a known name does.
pub fn mock_scram_secret(key: &[u8; 32], user: &str) -> ScramSecret {
    let derive = |what: &str| -> [u8; 32] {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(what.as_bytes());
        mac.update(&[0]);
        mac.update(user.as_bytes());
        mac.finalize().into_bytes().into()
    };
    ScramSecret {
        iterations: SCRAM_ITERATIONS,
        salt: derive("salt")[..16].to_vec(),
        stored_key: derive("stored"),
        server_key: derive("server"),
    }
}

/// Whether an unknown user is answered with an md5 exchange rather than a
/// SCRAM one: stable per name, and as likely as a known password user is
/// an md5 one, so the kind of exchange tells nothing about a name.
pub fn mock_uses_md5(key: &[u8; 32], user: &str, md5_users: usize, password_users: usize) -> bool {
    if md5_users == 0 || password_users == 0 {
        return false;
    }
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"method\0");
    mac.update(user.as_bytes());
    let h = mac.finalize().into_bytes();
    let draw = u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]) % password_users as u64;
    draw < md5_users as u64
}

/// Why an authentication exchange failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// The client's message did not follow the protocol.
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    /// Wrong password (or unknown user).
    #[error("password does not match")]
    Mismatch,
}

/// The server side of one SCRAM exchange between its two client messages.
#[derive(Debug)]
pub struct ScramExchange {
    client_first_bare: String,
    server_first: String,
    nonce: String,
    gs2_header: String,
}

/// Handles client-first-message; returns the state and the server-first-message.
pub fn scram_server_first(secret: &ScramSecret, client_first: &[u8]) -> Result<(ScramExchange, String), AuthError> {
    let text = std::str::from_utf8(client_first).map_err(|_| AuthError::Malformed("not UTF-8"))?;
    let cb = text.get(..2).ok_or(AuthError::Malformed("short message"))?;
    if cb != "n," && cb != "y," {
        return Err(AuthError::Malformed("channel binding is not supported"));
    }
    // gs2 header is "<cb-flag>,[authzid]," — everything up to the second comma.
    let second = text[2..].find(',').ok_or(AuthError::Malformed("no gs2 header"))? + 2;
    let gs2_header = text[..=second].to_owned();
    let bare = &text[second + 1..];
    let client_nonce = bare
        .split(',')
        .find_map(|a| a.strip_prefix("r="))
        .filter(|n| !n.is_empty())
        .ok_or(AuthError::Malformed("no nonce"))?;
    let mut server_nonce = [0u8; 18];
    rand::thread_rng().fill_bytes(&mut server_nonce);
    let nonce = format!("{client_nonce}{}", B64.encode(server_nonce));
    let server_first = format!("r={nonce},s={},i={}", B64.encode(&secret.salt), secret.iterations);
    Ok((
        ScramExchange {
            client_first_bare: bare.to_owned(),
            server_first: server_first.clone(),
            nonce,
            gs2_header,
        },
        server_first,
    ))
}

/// Handles client-final-message; returns the server-final-message on success.
pub fn scram_server_final(ex: &ScramExchange, secret: &ScramSecret, client_final: &[u8]) -> Result<String, AuthError> {
    let text = std::str::from_utf8(client_final).map_err(|_| AuthError::Malformed("not UTF-8"))?;
    let (without_proof, proof) = text.rsplit_once(",p=").ok_or(AuthError::Malformed("no proof"))?;
    let mut binding = None;
    let mut nonce = None;
    for attr in without_proof.split(',') {
        if let Some(v) = attr.strip_prefix("c=") {
            binding = Some(v);
        } else if let Some(v) = attr.strip_prefix("r=") {
            nonce = Some(v);
        }
    }
    if binding != Some(B64.encode(ex.gs2_header.as_bytes()).as_str()) {
        return Err(AuthError::Malformed("channel binding does not match"));
    }
    if nonce != Some(ex.nonce.as_str()) {
        return Err(AuthError::Malformed("nonce does not match"));
    }
    let proof: [u8; 32] = B64
        .decode(proof)
        .ok()
        .and_then(|p| p.try_into().ok())
        .ok_or(AuthError::Malformed("bad proof"))?;
    let auth_message = format!("{},{},{}", ex.client_first_bare, ex.server_first, without_proof);
    let signature = hmac(&secret.stored_key, auth_message.as_bytes());
    let mut client_key = [0u8; 32];
    for i in 0..32 {
        client_key[i] = proof[i] ^ signature[i];
    }
    let computed: [u8; 32] = Sha256::digest(client_key).into();
    // Constant-time comparison of the stored key.
    let diff = computed
        .iter()
        .zip(secret.stored_key.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff != 0 {
        return Err(AuthError::Mismatch);
    }
    let server_signature = hmac(&secret.server_key, auth_message.as_bytes());
    Ok(format!("v={}", B64.encode(server_signature)))
}

/// Checks an MD5 password message (`md5` + hex) against the stored hash and salt.
pub fn md5_matches(stored: &str, salt: [u8; 4], response: &str) -> bool {
    let Some(inner) = stored.strip_prefix("md5") else {
        return false;
    };
    let expected = format!("md5{}", md5_hex(&[inner.as_bytes(), &salt]));
    expected.len() == response.len()
        && expected
            .bytes()
            .zip(response.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

    fn run_exchange(secret: &ScramSecret, password: &str) -> Result<(), AuthError> {
        let mut client = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
        let (ex, server_first) = scram_server_first(secret, client.message())?;
        client
            .update(server_first.as_bytes())
            .map_err(|_| AuthError::Mismatch)?;
        let server_final = scram_server_final(&ex, secret, client.message())?;
        client.finish(server_final.as_bytes()).map_err(|_| AuthError::Mismatch)
    }

    #[test]
    fn scram_accepts_right_and_rejects_wrong_password() {
        let Secret::Scram(s) = Secret::for_scram("hunter2").unwrap() else {
            panic!("expected scram")
        };
        assert_eq!(run_exchange(&s, "hunter2"), Ok(()));
        assert_eq!(run_exchange(&s, "hunter3"), Err(AuthError::Mismatch));
        assert_eq!(
            run_exchange(&mock_scram_secret(&[7; 32], "nobody"), "hunter2"),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn unknown_users_get_a_stable_salt_and_exchange() {
        let key = [9u8; 32];
        let a = mock_scram_secret(&key, "mallory");
        assert_eq!(a, mock_scram_secret(&key, "mallory"), "the same name, the same salt");
        assert_ne!(a.salt, mock_scram_secret(&key, "trudy").salt);
        assert_ne!(a.salt, mock_scram_secret(&[8u8; 32], "mallory").salt);
        assert!(!mock_uses_md5(&key, "mallory", 0, 5));
        assert!(mock_uses_md5(&key, "mallory", 5, 5));
        let md5ish = (0..1000)
            .filter(|i| mock_uses_md5(&key, &format!("u{i}"), 1, 4))
            .count();
        assert!((150..350).contains(&md5ish), "{md5ish}");
    }

    #[test]
    fn parses_postgres_verifiers() {
        let s = scram_from_password("pw", b"0123456789abcdef", 4096);
        let verifier = format!(
            "SCRAM-SHA-256$4096:{}${}:{}",
            B64.encode(&s.salt),
            B64.encode(s.stored_key),
            B64.encode(s.server_key)
        );
        let Secret::Scram(parsed) = Secret::for_scram(&verifier).unwrap() else {
            panic!("expected scram")
        };
        assert_eq!(parsed, s);
        assert_eq!(run_exchange(&parsed, "pw"), Ok(()));
        assert!(Secret::for_scram("SCRAM-SHA-256$bogus").is_err());
    }

    #[test]
    fn md5_challenge() {
        let Secret::Md5(stored) = Secret::for_md5("alice", "pw").unwrap() else {
            panic!("expected md5")
        };
        let salt = [1, 2, 3, 4];
        let response = postgres_protocol::authentication::md5_hash(b"alice", b"pw", salt);
        assert!(md5_matches(&stored, salt, &response));
        assert!(!md5_matches(&stored, salt, "md5deadbeef"));
    }

    #[test]
    fn rejects_garbage_scram_messages() {
        let s = mock_scram_secret(&[7; 32], "nobody");
        assert!(scram_server_first(&s, b"p=tls-server-end-point,,n=,r=x").is_err());
        assert!(scram_server_first(&s, b"n,,n=").is_err());
        assert!(scram_server_first(&s, &[0xff, 0xfe]).is_err());
    }
}
