#!/bin/sh
# Writes a secret.env with freshly generated values (0600), the Kubernetes counterpart of
# `trackside-admin init-config`: sh deploy/k8s/new-secret-env.sh deploy/k8s/base/secret.env
# Refuses to overwrite: replacing the token secret logs every user out and new keys lock agents out.
set -eu
out=${1:?usage: new-secret-env.sh FILE}
[ ! -e "$out" ] || { echo "new-secret-env.sh: $out exists; not replacing it" >&2; exit 1; }
# N random characters from a set, read from the kernel's generator.
random() { LC_ALL=C tr -dc "$1" </dev/urandom | head -c "$2"; }
key() { random 'A-Z0-9' 30; }
secret() { random 'A-Za-z0-9_-' 64; }
umask 077
cat >"$out" <<END
token_secret=$(secret)
admin_access_key=$(key)
admin_secret_key=$(secret)
agent_access_key=$(key)
agent_secret_key=$(secret)
redis_server_password=$(secret)
redis_agent_password=$(secret)
web_admin_password=$(random 'A-Za-z0-9' 32)
custom_apps_agent_access_key=$(key)
custom_apps_agent_secret_key=$(secret)
END
echo "new-secret-env.sh: wrote $out; the admin key pair is in it (admin_access_key, admin_secret_key), and the" \
     "web app's sign-in (user admin, password web_admin_password)"
