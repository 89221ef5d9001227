#!/usr/bin/env bash
# Puts flowpos-mcp's secrets into Secret Manager and lets the service's own service account read them (and only
# them). Values come from environment variables or are generated here, and reach gcloud on stdin: never on a
# command line, never printed. Run it once before deploy.sh, and again to change a value.
#
#   DATABASE_URL='postgres://flowpos:…@10.20.0.3:5432/flowpos' \
#   deploy/cloudrun/secrets.sh --project my-proj --service-account flowpos-mcp@my-proj.iam.gserviceaccount.com \
#     --redis-instance flowpos-redis --region europe-west1
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: deploy/cloudrun/secrets.sh [options]

  --project ID                 [PROJECT, or gcloud's default]
  --service-account EMAIL      the Cloud Run service's identity (required) [SERVICE_ACCOUNT]
  --create-service-account     create that service account first
  --cloudsql-client            also grant it roles/cloudsql.client (for --cloudsql-instance in deploy.sh)

  --token-secret NAME          MCP_TOKEN_SECRET, signs the server's OAuth access tokens
                               [TOKEN_SECRET, default flowpos-mcp-token-secret]; value: $MCP_TOKEN_SECRET, else 48
                               random bytes generated here (only when the secret does not exist yet: a new value
                               would invalidate every token; rotate with MCP_TOKEN_SECRET_PREVIOUS, see the docs)
  --database-url-secret NAME   [DATABASE_URL_SECRET, default flowpos-database-url]; value: $DATABASE_URL (required
                               unless the secret exists)
  --redis-password-secret NAME [REDIS_PASSWORD_SECRET, default flowpos-redis-password, "none": Redis without AUTH];
                               value: $REDIS_PASSWORD, or Memorystore's AUTH string with --redis-instance
  --redis-instance NAME        read the AUTH string of this Memorystore instance [REDIS_INSTANCE]
  --region REGION              its region [REGION, default europe-west1]

  --dry-run                    print the gcloud commands instead of running them (values are never printed)
  -h, --help
USAGE
}

die() {
  printf 'secrets.sh: %s\n' "$*" >&2
  exit 2
}

PROJECT="${PROJECT:-}"
SERVICE_ACCOUNT="${SERVICE_ACCOUNT:-}"
CREATE_SA=0
CLOUDSQL_CLIENT=0
TOKEN_SECRET="${TOKEN_SECRET:-flowpos-mcp-token-secret}"
DATABASE_URL_SECRET="${DATABASE_URL_SECRET:-flowpos-database-url}"
REDIS_PASSWORD_SECRET="${REDIS_PASSWORD_SECRET:-flowpos-redis-password}"
REDIS_INSTANCE="${REDIS_INSTANCE:-}"
REGION="${REGION:-europe-west1}"
DRY_RUN=0

need_value() {
  [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || die "$1 needs a value (see --help)"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --project) need_value "$@"; PROJECT="$2"; shift 2 ;;
    --service-account) need_value "$@"; SERVICE_ACCOUNT="$2"; shift 2 ;;
    --create-service-account) CREATE_SA=1; shift ;;
    --cloudsql-client) CLOUDSQL_CLIENT=1; shift ;;
    --token-secret) need_value "$@"; TOKEN_SECRET="$2"; shift 2 ;;
    --database-url-secret) need_value "$@"; DATABASE_URL_SECRET="$2"; shift 2 ;;
    --redis-password-secret) need_value "$@"; REDIS_PASSWORD_SECRET="$2"; shift 2 ;;
    --redis-instance) need_value "$@"; REDIS_INSTANCE="$2"; shift 2 ;;
    --region) need_value "$@"; REGION="$2"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

if [[ -z "$PROJECT" && $DRY_RUN -eq 0 ]] && command -v gcloud >/dev/null 2>&1; then
  PROJECT="$(gcloud config get-value project 2>/dev/null || true)"
fi
[[ -n "$PROJECT" ]] || die "--project is required (or PROJECT, or \`gcloud config set project ID\`)"
[[ -n "$SERVICE_ACCOUNT" ]] || die "--service-account is required, e.g. flowpos-mcp@$PROJECT.iam.gserviceaccount.com"
[[ "$SERVICE_ACCOUNT" == *@*.iam.gserviceaccount.com ]] || die "--service-account must be a service account email (NAME@PROJECT.iam.gserviceaccount.com), got '$SERVICE_ACCOUNT'"
if [[ $DRY_RUN -eq 0 ]]; then
  command -v gcloud >/dev/null 2>&1 || die "gcloud is not installed (https://cloud.google.com/sdk/docs/install)"
fi

quote() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:=@,^%+-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

print_cmd() {
  local arg line='+'
  for arg in "$@"; do line+=" $(quote "$arg")"; done
  printf '%s' "$line"
}

run() {
  if [[ $DRY_RUN -eq 1 ]]; then
    print_cmd "$@"
    printf '\n'
  else
    "$@"
  fi
}

# run_with_value VALUE DESCRIPTION COMMAND…: COMMAND reads VALUE on stdin; a dry run names it and never shows it.
run_with_value() {
  local value="$1" what="$2"
  shift 2
  if [[ $DRY_RUN -eq 1 ]]; then
    print_cmd "$@"
    printf ' < (%s, %d characters)\n' "$what" "${#value}"
  else
    printf '%s' "$value" | "$@"
  fi
}

secret_exists() {
  [[ $DRY_RUN -eq 0 ]] && gcloud secrets describe "$1" --project="$PROJECT" >/dev/null 2>&1
}

# put_secret NAME VALUE DESCRIPTION ONLY_IF_MISSING
put_secret() {
  local name="$1" value="$2" what="$3" only_if_missing="$4"
  local create=(gcloud secrets create "$name" --project="$PROJECT" --replication-policy=automatic --data-file=-)
  local add=(gcloud secrets versions add "$name" --project="$PROJECT" --data-file=-)
  if [[ $DRY_RUN -eq 1 ]]; then
    printf '# %s: created if missing%s\n' "$name" "$([[ $only_if_missing -eq 1 ]] && printf ', left as it is if it exists' || printf ', else a new version')"
    run_with_value "$value" "$what" "${create[@]}"
    [[ $only_if_missing -eq 1 ]] || run_with_value "$value" "$what" "${add[@]}"
  elif secret_exists "$name"; then
    if [[ $only_if_missing -eq 1 ]]; then
      printf 'secret %s exists: left as it is\n' "$name"
    else
      run_with_value "$value" "$what" "${add[@]}"
    fi
  else
    run_with_value "$value" "$what" "${create[@]}"
  fi
}

grant() {
  run gcloud secrets add-iam-policy-binding "$1" --project="$PROJECT" \
    --member="serviceAccount:$SERVICE_ACCOUNT" --role=roles/secretmanager.secretAccessor
}

if [[ $CREATE_SA -eq 1 ]]; then
  run gcloud iam service-accounts create "${SERVICE_ACCOUNT%%@*}" --project="$PROJECT" --display-name="flowpos-mcp (Cloud Run)"
fi

# MCP_TOKEN_SECRET: given, or generated once.
if [[ -n "${MCP_TOKEN_SECRET:-}" ]]; then
  put_secret "$TOKEN_SECRET" "$MCP_TOKEN_SECRET" 'MCP_TOKEN_SECRET' 0
else
  generated="$(head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  put_secret "$TOKEN_SECRET" "$generated" 'generated' 1
fi
grant "$TOKEN_SECRET"

# DATABASE_URL: given, or already stored.
if [[ -n "${DATABASE_URL:-}" ]]; then
  [[ "$DATABASE_URL" =~ ^postgres(ql)?:// ]] || die "DATABASE_URL must start with postgres:// or postgresql://"
  put_secret "$DATABASE_URL_SECRET" "$DATABASE_URL" 'DATABASE_URL' 0
elif [[ $DRY_RUN -eq 0 ]] && ! secret_exists "$DATABASE_URL_SECRET"; then
  die "set DATABASE_URL (postgres://USER:PASS@PRIVATE_IP:5432/DB, or …@localhost/DB?host=/cloudsql/PROJECT:REGION:INSTANCE): secret $DATABASE_URL_SECRET does not exist yet"
fi
grant "$DATABASE_URL_SECRET"

# REDIS_PASSWORD: given, read from Memorystore, or none (AUTH disabled).
if [[ "$REDIS_PASSWORD_SECRET" != none ]]; then
  redis_password="${REDIS_PASSWORD:-}"
  what='REDIS_PASSWORD'
  if [[ -z "$redis_password" && -n "$REDIS_INSTANCE" ]]; then
    what="AUTH string of Memorystore instance $REDIS_INSTANCE"
    if [[ $DRY_RUN -eq 1 ]]; then
      run gcloud redis instances get-auth-string "$REDIS_INSTANCE" --project="$PROJECT" --region="$REGION"
      redis_password='<auth string>'
    else
      redis_password="$(gcloud redis instances get-auth-string "$REDIS_INSTANCE" --project="$PROJECT" --region="$REGION" --format='value(authString)')"
    fi
  fi
  if [[ -n "$redis_password" ]]; then
    put_secret "$REDIS_PASSWORD_SECRET" "$redis_password" "$what" 0
  elif [[ $DRY_RUN -eq 0 ]] && ! secret_exists "$REDIS_PASSWORD_SECRET"; then
    die "set REDIS_PASSWORD or --redis-instance (Memorystore AUTH), or pass --redis-password-secret none if AUTH is off"
  fi
  grant "$REDIS_PASSWORD_SECRET"
fi

if [[ $CLOUDSQL_CLIENT -eq 1 ]]; then
  run gcloud projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:$SERVICE_ACCOUNT" --role=roles/cloudsql.client --condition=None
fi

[[ $DRY_RUN -eq 1 ]] || printf 'Secrets ready for %s. Next: deploy/cloudrun/deploy.sh\n' "$SERVICE_ACCOUNT"
