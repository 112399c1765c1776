#!/bin/bash
# Test PKI (EC P-256, openssl CLI) written into DIR:
#   root.pem/.key          Test Root CA (10 y)
#   inter.pem/.key         Test Intermediate CA (pathlen:0, signed by root, 5 y)
#   leaf.pem/.key          CN=mail.test, SAN DNS:mail.test, DNS:localhost, IP:127.0.0.1 (1 y, by inter)
#   leaf-fullchain.pem     leaf + intermediate            (what a correct server sends)
#   expired.pem/.key       same names, valid -30 d .. -1 d (by inter) + expired-fullchain.pem
#   expiring.pem/.key      same names, valid -1 d .. +5 d  (by inter) + expiring-fullchain.pem
#   notyetvalid.pem/.key   same names, valid +1 d .. +30 d (by inter) + notyetvalid-fullchain.pem
#   selfsigned.pem/.key    self-signed, same names
#   root+inter.pem         root + intermediate in one CA bundle (masks an incomplete chain)
# Usage: gen-pki.sh DIR
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
cd "$1"
umask 077

rm -rf ca-db; mkdir -p ca-db/new; touch ca-db/index.txt; echo 1000 > ca-db/serial

cat > ext.cnf <<'CNF'
[v3_inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:mail.test, DNS:localhost, IP:127.0.0.1
CNF

# minimal "openssl ca" config: only used for leaves with validity outside "now .. now+N"
# (OpenSSL 3.0 "x509 -req" cannot backdate)
cat > ca.cnf <<'CNF'
[ca]
default_ca = inter
[inter]
dir = ./ca-db
database = $dir/index.txt
new_certs_dir = $dir/new
serial = $dir/serial
certificate = inter.pem
private_key = inter.key
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = none
[pol]
commonName = supplied
CNF

q() {   # run quietly; show the output only when the command fails
  local out
  if ! out=$("$@" 2>&1); then echo "gen-pki: failed: $*" >&2; echo "$out" >&2; return 1; fi
}
key() { q openssl ecparam -name prime256v1 -genkey -noout -out "$1.key"; }
ts() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

# 1. root CA
key root
q openssl req -x509 -new -key root.key -sha256 -days 3650 -subj "/O=Test PKI/CN=Test Root CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out root.pem

# 2. intermediate CA
key inter
q openssl req -new -key inter.key -subj "/O=Test PKI/CN=Test Intermediate CA" -out inter.csr
q openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial -sha256 -days 1825 \
  -extfile ext.cnf -extensions v3_inter -out inter.pem

# 3. leaf
key leaf
q openssl req -new -key leaf.key -subj "/CN=mail.test" -out leaf.csr
q openssl x509 -req -in leaf.csr -CA inter.pem -CAkey inter.key -CAcreateserial -sha256 -days 365 \
  -extfile ext.cnf -extensions v3_leaf -out leaf.pem
cat leaf.pem inter.pem > leaf-fullchain.pem

# 4. leaves with explicit validity windows: expired, expiring soon, not yet valid
dated_leaf() {  # name start end
  key "$1"
  q openssl req -new -key "$1.key" -subj "/CN=mail.test" -out "$1.csr"
  q openssl ca -batch -config ca.cnf -in "$1.csr" -out "$1.pem" -notext \
    -startdate "$(ts "$2")" -enddate "$(ts "$3")" -extfile ext.cnf -extensions v3_leaf
  cat "$1.pem" inter.pem > "$1-fullchain.pem"
}
dated_leaf expired '-30 days' '-1 day'
dated_leaf expiring '-1 day' '+5 days'
dated_leaf notyetvalid '+1 day' '+30 days'

# 5. self-signed leaf
key selfsigned
q openssl req -x509 -new -key selfsigned.key -sha256 -days 365 -subj "/CN=mail.test" \
  -addext "subjectAltName=DNS:mail.test,DNS:localhost,IP:127.0.0.1" \
  -addext "extendedKeyUsage=serverAuth" -out selfsigned.pem

cat root.pem inter.pem > root+inter.pem
rm -f ./*.csr
chmod 600 ./*.key
chmod 644 ./*.pem

# sanity: the chain must verify, the broken variants must not
openssl verify -CAfile root.pem -untrusted inter.pem leaf.pem >/dev/null
if openssl verify -CAfile root.pem leaf.pem >/dev/null 2>&1; then
  echo "gen-pki: leaf verified without intermediate?!" >&2; exit 1
fi
