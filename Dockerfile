# syntax=docker/dockerfile:1
#
# flowpos-mcp: compiled in a build stage with the dev toolchain, run from a stage that has only the production
# dependencies and the compiled dist/ (with its SQL migrations and Lua scripts). Cloud Run, Compose and plain
# `docker run` use the same image; configuration comes from the environment (README.md, docs/deploy-cloud-run.md).
#
#   docker build -t flowpos-mcp .
#   docker run --rm -p 4000:4000 -e DATABASE_URL=… -e REDIS_URL=… -e PUBLIC_URL=http://localhost:4000 flowpos-mcp

ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The embedded database and demo key of a non-production run go to ./.flowpos; the app user must be able to write it.
RUN mkdir -p /app/.flowpos && chown node:node /app/.flowpos
# The `node` user of the official image (uid 1000): nothing runs as root.
USER node
# Cloud Run sets PORT; elsewhere the server listens on 4000 (HOST defaults to 0.0.0.0 in production).
EXPOSE 4000
# /health touches nothing (liveness); /ready checks Redis and PostgreSQL. Slim images have no curl: node asks.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node is PID 1 and handles SIGTERM itself: in-flight requests finish within SHUTDOWN_GRACE_SECONDS, then it exits 0.
CMD ["node", "dist/cli.js", "serve"]
