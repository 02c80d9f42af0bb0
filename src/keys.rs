//! Loading and creating the oracle's signing keys: a file holding the key in hex, or an encrypted
//! JSON keystore in the standard Ethereum (Web3 Secret Storage) format with its password in a
//! file, or, for local runs, a key file generated on first start.
//!
//! Key material never leaves this module except as a `report::SigningKey`, whose `Debug` shows the
//! address only; errors name the file, never its content.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::config::KeySource;
use crate::report::SigningKey;

/// Why a key could not be loaded or written. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The key file does not hold 32 bytes of hex, or they are not a valid secp256k1 key.
    #[error("{path} does not hold a secp256k1 private key as 64 hex digits")]
    NotAKey {
        /// The file.
        path: PathBuf,
    },
    /// The keystore could not be decrypted: a wrong password, or not a keystore.
    #[error("cannot decrypt the keystore {path}: {reason}")]
    Keystore {
        /// The keystore file.
        path: PathBuf,
        /// What failed (never the password).
        reason: String,
    },
    /// A key file is already there and would be overwritten.
    #[error("{path} exists already: refusing to overwrite a key")]
    Exists {
        /// The file.
        path: PathBuf,
    },
}

/// Loads the key `source` names, generating it first when allowed and missing.
pub fn load(source: &KeySource) -> Result<SigningKey, KeyError> {
    match &source.password_file {
        Some(password_file) => {
            let password = read_password(password_file)?;
            load_keystore(&source.path, &password)
        }
        None if source.generate && !source.path.exists() => {
            let key = generate();
            match write_key_file(&source.path, &key) {
                Ok(()) => {
                    tracing::info!(path = %source.path.display(), address = %key.address(),
                        "generated a new oracle key for local runs");
                    Ok(key)
                }
                // Another process generated it between the check and the write: use theirs.
                Err(KeyError::Exists { .. }) => load_key_file(&source.path),
                Err(other) => Err(other),
            }
        }
        None => load_key_file(&source.path),
    }
}

/// Reads a key file of hex digits.
pub fn load_key_file(path: &Path) -> Result<SigningKey, KeyError> {
    let text = SecretString::from(fs::read_to_string(path).map_err(|source| KeyError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?);
    let trimmed = text.expose_secret().trim();
    let digits = trimmed.strip_prefix("0x").unwrap_or(trimmed);
    let mut bytes = [0u8; 32];
    let parsed = hex::decode_to_slice(digits, &mut bytes).is_ok();
    let key = parsed
        .then(|| SigningKey::from_bytes(&bytes).ok())
        .flatten();
    bytes.fill(0);
    key.ok_or_else(|| KeyError::NotAKey {
        path: path.to_path_buf(),
    })
}

/// Decrypts an encrypted JSON keystore (scrypt or pbkdf2, aes-128-ctr), as geth, Foundry's
/// `cast wallet` and other Ethereum tools write them.
pub fn load_keystore(path: &Path, password: &SecretString) -> Result<SigningKey, KeyError> {
    let keystore_error = |reason: String| KeyError::Keystore {
        path: path.to_path_buf(),
        reason,
    };
    let mut plain = eth_keystore::decrypt_key(path, password.expose_secret())
        .map_err(|e| keystore_error(keystore_reason(e)))?;
    let key = <[u8; 32]>::try_from(plain.as_slice())
        .ok()
        .and_then(|bytes| SigningKey::from_bytes(&bytes).ok());
    plain.fill(0);
    key.ok_or_else(|| keystore_error("it does not hold a secp256k1 private key".into()))
}

/// A new key from the operating system's random source.
pub fn generate() -> SigningKey {
    use rand::RngCore;
    loop {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let key = SigningKey::from_bytes(&bytes);
        bytes.fill(0);
        if let Ok(key) = key {
            return key;
        }
    }
}

/// Writes `key` as hex to a new file readable by its owner only; refuses to overwrite.
///
/// The key is written whole to a private temporary file first and then linked into place, so a
/// second process starting at the same moment sees either no file or the complete key, never a
/// half-written one.
pub fn write_key_file(path: &Path, key: &SigningKey) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io)?;
    // tempfile creates its files readable by their owner only (0600 on Unix).
    let mut staged = tempfile::Builder::new()
        .prefix(".oracle-key-")
        .tempfile_in(dir)
        .map_err(io)?;
    let text = SecretString::from(format!("0x{}\n", hex::encode(key.to_bytes())));
    staged
        .write_all(text.expose_secret().as_bytes())
        .and_then(|()| staged.as_file().sync_all())
        .map_err(io)?;
    // The staged file is removed when `staged` drops, whether or not the link succeeded.
    fs::hard_link(staged.path(), path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            io(source)
        }
    })
}

/// Writes `key` as an encrypted JSON keystore at `path`; refuses to overwrite.
pub fn write_keystore(
    path: &Path,
    key: &SigningKey,
    password: &SecretString,
) -> Result<(), KeyError> {
    if path.exists() {
        return Err(KeyError::Exists {
            path: path.to_path_buf(),
        });
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| KeyError::Io {
            action: "write",
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        })?;
    fs::create_dir_all(dir).map_err(|source| KeyError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })?;
    let mut rng = <rand08::rngs::StdRng as rand08::SeedableRng>::from_entropy();
    let mut bytes = key.to_bytes();
    let written =
        eth_keystore::encrypt_key(dir, &mut rng, bytes, password.expose_secret(), Some(name));
    bytes.fill(0);
    written.map(drop).map_err(|e| KeyError::Keystore {
        path: path.to_path_buf(),
        reason: keystore_reason(e),
    })
}

/// Reads a password file, dropping one trailing newline.
pub fn read_password(path: &Path) -> Result<SecretString, KeyError> {
    let text = fs::read_to_string(path).map_err(|source| KeyError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let password = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    Ok(SecretString::from(password.to_string()))
}

/// The keystore crate's error, in words that never include the secret.
fn keystore_reason(error: eth_keystore::KeystoreError) -> String {
    match error {
        eth_keystore::KeystoreError::MacMismatch => "wrong password".into(),
        eth_keystore::KeystoreError::StdIo(e) => e.to_string(),
        eth_keystore::KeystoreError::SerdeJson(e) => format!("not a JSON keystore ({e})"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_round_trips_and_refuses_to_be_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/oracle.key");
        let key = generate();
        write_key_file(&path, &key).unwrap();
        assert_eq!(load_key_file(&path).unwrap().address(), key.address());
        assert!(matches!(
            write_key_file(&path, &generate()),
            Err(KeyError::Exists { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "only the owner may read a key file");
        }
    }

    #[test]
    fn a_bad_key_file_names_the_file_and_not_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        fs::write(&path, "0xnot-hex-but-a-secret-looking-string").unwrap();
        let err = load_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("bad.key"), "{err}");
        assert!(!err.contains("secret-looking"), "{err}");
        fs::write(&path, format!("{}\n", "00".repeat(32))).unwrap();
        assert!(matches!(
            load_key_file(&path),
            Err(KeyError::NotAKey { .. })
        ));
    }

    #[test]
    fn a_keystore_round_trips_and_a_wrong_password_is_named_without_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oracle.json");
        let key = generate();
        let password = SecretString::from("correct horse".to_string());
        write_keystore(&path, &key, &password).unwrap();
        assert_eq!(
            load_keystore(&path, &password).unwrap().address(),
            key.address()
        );
        let wrong = SecretString::from("battery staple".to_string());
        let err = load_keystore(&path, &wrong).unwrap_err().to_string();
        assert!(err.contains("wrong password"), "{err}");
        assert!(!err.contains("battery"), "{err}");
    }

    #[test]
    fn a_generating_source_creates_its_key_once_and_then_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let source = KeySource {
            path: dir.path().join("data/oracle.key"),
            password_file: None,
            generate: true,
        };
        let first = load(&source).unwrap();
        let again = load(&source).unwrap();
        assert_eq!(first.address(), again.address());
    }

    #[test]
    fn starts_racing_to_generate_one_key_all_end_up_with_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let source = KeySource {
            path: dir.path().join("data/oracle.key"),
            password_file: None,
            generate: true,
        };
        let start = std::sync::Barrier::new(8);
        let addresses: Vec<_> = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        load(&source).map(|key| key.address())
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let on_disk = load_key_file(&source.path).unwrap().address();
        for address in addresses {
            assert_eq!(address.unwrap(), on_disk);
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("data"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["oracle.key"], "no staged file is left behind");
    }

    #[test]
    fn a_missing_key_file_is_an_error_when_generation_is_off() {
        let dir = tempfile::tempdir().unwrap();
        let source = KeySource {
            path: dir.path().join("absent.key"),
            password_file: None,
            generate: false,
        };
        assert!(matches!(load(&source), Err(KeyError::Io { .. })));
    }
}
