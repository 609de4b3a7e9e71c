//! Asymmetric keys made at test time (never committed), with every encoding
//! the tests load them from.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _, RsaPublicKeyComponents,
};

pub struct TestKey {
    pub private_pem: String,
    pub public_pem: String,
    pub private_der: Vec<u8>,
    pub public_der: Vec<u8>,
    /// The raw public key: an uncompressed EC point, or 32 Ed25519 bytes
    /// (empty for RSA).
    pub public_raw: Vec<u8>,
}

pub fn pem(tag: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(tag, der.to_vec()))
}

fn test_key(private: &[u8], public: &[u8], public_raw: Vec<u8>) -> TestKey {
    TestKey {
        private_pem: pem("PRIVATE KEY", private),
        public_pem: pem("PUBLIC KEY", public),
        private_der: private.to_vec(),
        public_der: public.to_vec(),
        public_raw,
    }
}

/// A new 2048-bit RSA key, with its public components.
pub fn rsa_key() -> (TestKey, RsaPublicKeyComponents<Vec<u8>>) {
    let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).unwrap();
    let private = AsDer::<Pkcs8V1Der<'static>>::as_der(&pair).unwrap();
    let public = pair.public_key().as_der().unwrap();
    let components = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    (
        test_key(private.as_ref(), public.as_ref(), Vec::new()),
        components,
    )
}

/// A new EC key on the curve of `alg`.
pub fn ec_key(alg: &'static EcdsaSigningAlgorithm) -> TestKey {
    let pair = EcdsaKeyPair::generate(alg).unwrap();
    let private = pair.to_pkcs8v1().unwrap();
    let public = pair.public_key().as_der().unwrap();
    test_key(
        private.as_ref(),
        public.as_ref(),
        pair.public_key().as_ref().to_vec(),
    )
}

/// A new Ed25519 key.
pub fn ed25519_key() -> TestKey {
    let pair = Ed25519KeyPair::generate().unwrap();
    let private = pair.to_pkcs8v1().unwrap();
    let public = pair.public_key().as_der().unwrap();
    test_key(
        private.as_ref(),
        public.as_ref(),
        pair.public_key().as_ref().to_vec(),
    )
}
