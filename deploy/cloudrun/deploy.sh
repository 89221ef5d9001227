#!/usr/bin/env bash
# Builds the flowpos-mcp image with Cloud Build and deploys it to Cloud Run: many identical instances, no session
# affinity, Redis (Memorystore) through Serverless VPC Access, PostgreSQL (Cloud SQL) by private IP or the Cloud
# SQL connector, secrets from Secret Manager. docs/deploy-cloud-run.md explains every choice.
#
#   deploy/cloudrun/deploy.sh --project my-proj --region europe-west1 \
#     --service-account flowpos-mcp@my-proj.iam.gserviceaccount.com \
#     --public-url https://flowpos-mcp-123456789012.europe-west1.run.app \
#     --vpc-connector flowpos-connector --redis-host 10.0.0.3
#
# Every option also reads an environment variable (in brackets in --help). --dry-run prints the commands.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: deploy/cloudrun/deploy.sh [options]

Where
  --project ID                 Google Cloud project                      [PROJECT, or gcloud's default]
  --region REGION              Cloud Run and Artifact Registry region    [REGION, default europe-west1]
  --service NAME               Cloud Run service name                    [SERVICE, default flowpos-mcp]
Image
  --image IMAGE                image to deploy                           [IMAGE, default
                               REGION-docker.pkg.dev/PROJECT/REPOSITORY/SERVICE:TAG]
  --repository NAME            Artifact Registry repository              [REPOSITORY, default flowpos]
  --tag TAG                    image tag                                 [TAG, default the git commit]
  --no-build                   deploy IMAGE as it is (no Cloud Build)
Identity and URL
  --service-account EMAIL      the service's runtime identity (required) [SERVICE_ACCOUNT]
  --public-url URL             the URL clients use (required)            [PUBLIC_URL]
                               https://SERVICE-PROJECT_NUMBER.REGION.run.app or your own domain
  --no-allow-unauthenticated   require Cloud Run IAM (roles/run.invoker) in front of the app's own auth
Redis (Memorystore, reached through Serverless VPC Access)
  --vpc-connector NAME         Serverless VPC Access connector (required) [VPC_CONNECTOR]
  --vpc-egress MODE            private-ranges-only | all-traffic          [VPC_EGRESS, default private-ranges-only]
  --redis-host HOST            Memorystore IP (required)                  [REDIS_HOST]
  --redis-port PORT                                                       [REDIS_PORT, default 6379]
  --redis-tls                  Memorystore in-transit encryption          [REDIS_TLS=true]
  --redis-password-secret NAME secret holding the AUTH string; "none" if AUTH is off
                                                                          [REDIS_PASSWORD_SECRET, default flowpos-redis-password]
PostgreSQL (Cloud SQL)
  --database-url-secret NAME   secret holding DATABASE_URL                [DATABASE_URL_SECRET, default flowpos-database-url]
  --cloudsql-instance CONN     PROJECT:REGION:INSTANCE, mounted at /cloudsql/CONN (the connector); the secret's URL
                               is then postgres://USER:PASS@localhost/DB?host=/cloudsql/CONN [CLOUDSQL_INSTANCE]
Secrets
  --token-secret NAME          secret holding MCP_TOKEN_SECRET            [TOKEN_SECRET, default flowpos-mcp-token-secret]
Capacity
  --min-instances N            [MIN_INSTANCES, default 1: no cold start for the first agent]
  --max-instances N            [MAX_INSTANCES, default 10]
  --memory SIZE                [MEMORY, default 512Mi]
  --cpu N                      [CPU, default 1]
  --concurrency N              requests (open streams included) per instance [CONCURRENCY, default 80]
  --timeout SECONDS            longest request, so longest SSE stream     [TIMEOUT, default 3600]
  --max-stream-seconds N       MCP_SSE_MAX_STREAM_SECONDS: GET streams end (and resume elsewhere) after N s
                                                                          [MAX_STREAM_SECONDS, default 900]
Other
  --firebase-project ID        FIREBASE_PROJECT_ID (Firebase sign-in)     [FIREBASE_PROJECT_ID]
  --firebase-api-key KEY       FIREBASE_API_KEY: the Web API key (public, not a secret); turns on the browser
                               sign-in for Claude, ChatGPT, VS Code (needs --firebase-project) [FIREBASE_API_KEY]
  --env KEY=VALUE              another environment variable (repeatable)
  --dry-run                    print the gcloud commands instead of running them
  -h, --help
USAGE
}

die() {
  printf 'deploy.sh: %s\n' "$*" >&2
  exit 2
}

PROJECT="${PROJECT:-}"
REGION="${REGION:-europe-west1}"
SERVICE="${SERVICE:-flowpos-mcp}"
IMAGE="${IMAGE:-}"
REPOSITORY="${REPOSITORY:-flowpos}"
TAG="${TAG:-}"
BUILD=1
SERVICE_ACCOUNT="${SERVICE_ACCOUNT:-}"
PUBLIC_URL="${PUBLIC_URL:-}"
ALLOW_UNAUTHENTICATED=1
VPC_CONNECTOR="${VPC_CONNECTOR:-}"
VPC_EGRESS="${VPC_EGRESS:-private-ranges-only}"
REDIS_HOST="${REDIS_HOST:-}"
REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_TLS="${REDIS_TLS:-false}"
REDIS_PASSWORD_SECRET="${REDIS_PASSWORD_SECRET:-flowpos-redis-password}"
DATABASE_URL_SECRET="${DATABASE_URL_SECRET:-flowpos-database-url}"
CLOUDSQL_INSTANCE="${CLOUDSQL_INSTANCE:-}"
TOKEN_SECRET="${TOKEN_SECRET:-flowpos-mcp-token-secret}"
MIN_INSTANCES="${MIN_INSTANCES:-1}"
MAX_INSTANCES="${MAX_INSTANCES:-10}"
MEMORY="${MEMORY:-512Mi}"
CPU="${CPU:-1}"
CONCURRENCY="${CONCURRENCY:-80}"
TIMEOUT="${TIMEOUT:-3600}"
MAX_STREAM_SECONDS="${MAX_STREAM_SECONDS:-900}"
FIREBASE_PROJECT_ID="${FIREBASE_PROJECT_ID:-}"
FIREBASE_API_KEY="${FIREBASE_API_KEY:-}"
EXTRA_ENV=()
DRY_RUN=0

need_value() {
  [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || die "$1 needs a value (see --help)"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --project) need_value "$@"; PROJECT="$2"; shift 2 ;;
    --region) need_value "$@"; REGION="$2"; shift 2 ;;
    --service) need_value "$@"; SERVICE="$2"; shift 2 ;;
    --image) need_value "$@"; IMAGE="$2"; shift 2 ;;
    --repository) need_value "$@"; REPOSITORY="$2"; shift 2 ;;
    --tag) need_value "$@"; TAG="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --service-account) need_value "$@"; SERVICE_ACCOUNT="$2"; shift 2 ;;
    --public-url) need_value "$@"; PUBLIC_URL="$2"; shift 2 ;;
    --allow-unauthenticated) ALLOW_UNAUTHENTICATED=1; shift ;;
    --no-allow-unauthenticated) ALLOW_UNAUTHENTICATED=0; shift ;;
    --vpc-connector) need_value "$@"; VPC_CONNECTOR="$2"; shift 2 ;;
    --vpc-egress) need_value "$@"; VPC_EGRESS="$2"; shift 2 ;;
    --redis-host) need_value "$@"; REDIS_HOST="$2"; shift 2 ;;
    --redis-port) need_value "$@"; REDIS_PORT="$2"; shift 2 ;;
    --redis-tls) REDIS_TLS=true; shift ;;
    --redis-password-secret) need_value "$@"; REDIS_PASSWORD_SECRET="$2"; shift 2 ;;
    --database-url-secret) need_value "$@"; DATABASE_URL_SECRET="$2"; shift 2 ;;
    --cloudsql-instance) need_value "$@"; CLOUDSQL_INSTANCE="$2"; shift 2 ;;
    --token-secret) need_value "$@"; TOKEN_SECRET="$2"; shift 2 ;;
    --min-instances) need_value "$@"; MIN_INSTANCES="$2"; shift 2 ;;
    --max-instances) need_value "$@"; MAX_INSTANCES="$2"; shift 2 ;;
    --memory) need_value "$@"; MEMORY="$2"; shift 2 ;;
    --cpu) need_value "$@"; CPU="$2"; shift 2 ;;
    --concurrency) need_value "$@"; CONCURRENCY="$2"; shift 2 ;;
    --timeout) need_value "$@"; TIMEOUT="$2"; shift 2 ;;
    --max-stream-seconds) need_value "$@"; MAX_STREAM_SECONDS="$2"; shift 2 ;;
    --firebase-project) need_value "$@"; FIREBASE_PROJECT_ID="$2"; shift 2 ;;
    --firebase-api-key) need_value "$@"; FIREBASE_API_KEY="$2"; shift 2 ;;
    --env) need_value "$@"; [[ "$2" == *=* ]] || die "--env takes KEY=VALUE, got '$2'"; EXTRA_ENV+=("$2"); shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

# An argument as the shell would need it: bare when plain, else in single quotes.
quote() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:=@,^%+-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

# Runs a command, or prints it (one line, quoted for the shell) with --dry-run.
run() {
  if [[ $DRY_RUN -eq 1 ]]; then
    local arg line='+'
    for arg in "$@"; do line+=" $(quote "$arg")"; done
    printf '%s\n' "$line"
  else
    "$@"
  fi
}

is_int() { [[ "$1" =~ ^[0-9]+$ ]]; }

if [[ -z "$PROJECT" && $DRY_RUN -eq 0 ]] && command -v gcloud >/dev/null 2>&1; then
  PROJECT="$(gcloud config get-value project 2>/dev/null || true)"
fi
[[ -n "$PROJECT" ]] || die "--project is required (or PROJECT, or \`gcloud config set project ID\`)"
[[ -n "$SERVICE_ACCOUNT" ]] || die "--service-account is required: the service's own identity, e.g. flowpos-mcp@$PROJECT.iam.gserviceaccount.com (never the default compute account)"
[[ -n "$PUBLIC_URL" ]] || die "--public-url is required: https://$SERVICE-PROJECT_NUMBER.$REGION.run.app (PROJECT_NUMBER: \`gcloud projects describe $PROJECT --format='value(projectNumber)'\`) or your own domain"
[[ "$PUBLIC_URL" =~ ^https?://[^/]+/?$ ]] || die "--public-url must be a base URL like https://host (no path), got '$PUBLIC_URL'"
[[ -n "$VPC_CONNECTOR" ]] || die "--vpc-connector is required: Memorystore has only a private IP, reached through Serverless VPC Access"
[[ -n "$REDIS_HOST" ]] || die "--redis-host is required (the Memorystore instance's IP: \`gcloud redis instances describe NAME --region $REGION --format='value(host)'\`)"
[[ "$VPC_EGRESS" == private-ranges-only || "$VPC_EGRESS" == all-traffic ]] || die "--vpc-egress is private-ranges-only or all-traffic, got '$VPC_EGRESS'"
for pair in "min-instances:$MIN_INSTANCES" "max-instances:$MAX_INSTANCES" "concurrency:$CONCURRENCY" "timeout:$TIMEOUT" "redis-port:$REDIS_PORT" "max-stream-seconds:$MAX_STREAM_SECONDS"; do
  is_int "${pair#*:}" || die "--${pair%%:*} takes a whole number, got '${pair#*:}'"
done
((MIN_INSTANCES <= MAX_INSTANCES)) || die "--min-instances ($MIN_INSTANCES) is above --max-instances ($MAX_INSTANCES)"
((TIMEOUT >= 1 && TIMEOUT <= 3600)) || die "--timeout is 1..3600 seconds on Cloud Run, got $TIMEOUT"
if ((MAX_STREAM_SECONDS > 0 && MAX_STREAM_SECONDS >= TIMEOUT)); then
  die "--max-stream-seconds ($MAX_STREAM_SECONDS) must stay below --timeout ($TIMEOUT), so streams end with a retry hint before Cloud Run cuts them"
fi

if [[ -z "$IMAGE" ]]; then
  if [[ -z "$TAG" ]]; then
    TAG="$(git -C "$(dirname "$0")" rev-parse --short=12 HEAD 2>/dev/null || date -u +%Y%m%d%H%M%S)"
  fi
  IMAGE="$REGION-docker.pkg.dev/$PROJECT/$REPOSITORY/$SERVICE:$TAG"
fi

if [[ $DRY_RUN -eq 0 ]]; then
  command -v gcloud >/dev/null 2>&1 || die "gcloud is not installed (https://cloud.google.com/sdk/docs/install)"
fi

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"

if [[ $BUILD -eq 1 ]]; then
  # The Dockerfile at the repository root; .dockerignore keeps node_modules, .git and local state out of the upload.
  run gcloud builds submit "$ROOT" --project="$PROJECT" --region="$REGION" --tag="$IMAGE"
fi

env_vars=(
  "NODE_ENV=production"
  "PUBLIC_URL=${PUBLIC_URL%/}"
  "REDIS_HOST=$REDIS_HOST"
  "REDIS_PORT=$REDIS_PORT"
  "REDIS_TLS=$REDIS_TLS"
  "MCP_SSE_MAX_STREAM_SECONDS=$MAX_STREAM_SECONDS"
  # Cloud Run sends SIGTERM and waits 10 s before SIGKILL: in-flight requests get 8 of them.
  "SHUTDOWN_GRACE_SECONDS=8"
  "GOOGLE_CLOUD_PROJECT=$PROJECT"
)
[[ -n "$FIREBASE_PROJECT_ID" ]] && env_vars+=("FIREBASE_PROJECT_ID=$FIREBASE_PROJECT_ID")
if [[ -n "$FIREBASE_API_KEY" ]]; then
  [[ -n "$FIREBASE_PROJECT_ID" ]] || die "--firebase-api-key needs --firebase-project"
  env_vars+=("FIREBASE_API_KEY=$FIREBASE_API_KEY")
fi
env_vars+=("${EXTRA_ENV[@]}")

secrets=("MCP_TOKEN_SECRET=$TOKEN_SECRET:latest" "DATABASE_URL=$DATABASE_URL_SECRET:latest")
[[ "$REDIS_PASSWORD_SECRET" != none ]] && secrets+=("REDIS_PASSWORD=$REDIS_PASSWORD_SECRET:latest")

# gcloud splits --set-env-vars on commas; a value with a comma (a list) needs another delimiter.
join_env() {
  local sep=',' joined='' item
  for item in "$@"; do
    if [[ "$item" == *,* ]]; then sep='@'; fi
  done
  for item in "$@"; do
    [[ "$sep" == '@' && "$item" == *@* ]] && die "an environment value holds both ',' and '@': $item"
    joined+="${joined:+$sep}$item"
  done
  if [[ "$sep" == '@' ]]; then printf '^@^%s' "$joined"; else printf '%s' "$joined"; fi
}

deploy=(
  gcloud run deploy "$SERVICE"
  --project="$PROJECT"
  --region="$REGION"
  --image="$IMAGE"
  --service-account="$SERVICE_ACCOUNT"
  --port=4000
  --min-instances="$MIN_INSTANCES"
  --max-instances="$MAX_INSTANCES"
  --memory="$MEMORY"
  --cpu="$CPU"
  --concurrency="$CONCURRENCY"
  --timeout="$TIMEOUT"
  # Any instance serves any request of any session: sessions live in Redis.
  --no-session-affinity
  --cpu-boost
  --execution-environment=gen2
  --vpc-connector="$VPC_CONNECTOR"
  --vpc-egress="$VPC_EGRESS"
  --set-env-vars="$(join_env "${env_vars[@]}")"
  --set-secrets="$(join_env "${secrets[@]}")"
)
[[ -n "$CLOUDSQL_INSTANCE" ]] && deploy+=(--add-cloudsql-instances="$CLOUDSQL_INSTANCE")
if [[ $ALLOW_UNAUTHENTICATED -eq 1 ]]; then
  # Public at the Cloud Run layer; every /mcp request still needs an API key or an OAuth access token.
  deploy+=(--allow-unauthenticated)
else
  deploy+=(--no-allow-unauthenticated)
fi

run "${deploy[@]}"

if [[ $DRY_RUN -eq 0 ]]; then
  printf '\nDeployed %s. Check it end to end:\n  npm run cli -- verify --url %s --api-key <key>\n' "$SERVICE" "${PUBLIC_URL%/}"
fi
