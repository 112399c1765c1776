#!/bin/sh
# Regenerates the certificate seeds of the `certs` and `certs_der` targets (DER, one certificate a
# file): the probes' test fixtures, plus certificates with the extensions the facts read (DNS,
# wildcard and IP subjectAltNames, key identifiers, Authority Information Access, CA flag) and
# other key kinds (P-384, Ed25519). Run from anywhere; needs openssl.
set -eu
cd "$(dirname "$0")"
out=corpus/certs
fixtures=../plugins/probes/tests/fixtures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for f in weak-rsa1024 weak-sha1-ca weak-sha1-leaf; do
  openssl x509 -in "$fixtures/$f.pem" -outform DER -out "$out/seed-$f.der"
done

# An Ed25519 root.
openssl genpkey -algorithm ed25519 -out "$tmp/root.key"
openssl req -x509 -key "$tmp/root.key" -days 36500 -subj "/CN=Fuzz Root CA/O=mailbeat fuzz" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" -outform DER -out "$out/seed-ed25519-root.der"

# A P-384 leaf it signed: wildcard, DNS and IPv4/IPv6 names, AIA, key identifiers.
openssl ecparam -name secp384r1 -genkey -noout -out "$tmp/leaf.key"
openssl req -new -key "$tmp/leaf.key" -subj "/CN=mail.example.com/O=Example/C=JP" -out "$tmp/leaf.csr"
cat > "$tmp/ext" <<'EXT'
subjectAltName=DNS:mail.example.com,DNS:*.example.com,IP:192.0.2.1,IP:2001:db8::1,email:postmaster@example.com
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
authorityInfoAccess=caIssuers;URI:http://ca.example.com/root.der,OCSP;URI:http://ocsp.example.com/
EXT
openssl x509 -req -in "$tmp/leaf.csr" -CA "$out/seed-ed25519-root.der" -CAform DER \
  -CAkey "$tmp/root.key" -CAcreateserial -CAserial "$tmp/serial" -days 36500 \
  -extfile "$tmp/ext" -outform DER -out "$out/seed-p384-leaf.der"
