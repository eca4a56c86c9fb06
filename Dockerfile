# syntax=docker/dockerfile:1
# Three stages. The last two are the production install that `.ci/run` tests on every change
# (scripts/check-production-install.sh): `npm ci --omit=dev` next to a built dist/, then serve.

# 1. Build: every dependency, compile TypeScript to dist/.
FROM node:22-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY cli ./cli
COPY migrations ./migrations
COPY benchmark ./benchmark
RUN npm ci && npm run build

# 2. Production dependencies only; the native SQLite driver compiles here.
FROM node:22-slim AS deps
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
RUN npm ci --omit=dev

# 3. Runtime: no compiler, no dev dependency, no tests; runs as the unprivileged `node` user.
FROM node:22-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY views ./views
COPY static ./static
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/api/v1/status').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["node", "bin/secretsfly.js", "serve"]
