# syntax=docker/dockerfile:1
#
# ledgerproxy container image.
#
#   docker build -t ledgerproxy .
#   docker run --rm -p 8080:8080 -p 127.0.0.1:9090:9090 \
#     -v "$PWD/examples/aptos-local.yaml:/etc/ledgerproxy/proxy.config.yaml:ro" ledgerproxy
#   docker run --rm -v "$PWD/my.yaml:/etc/ledgerproxy/proxy.config.yaml:ro" \
#     ledgerproxy check-config                     # validates $LEDGERPROXY_CONFIG; exits 0 or 1
#
# Shutdown: on SIGTERM the proxy drains for server.shutdown.drainDelayMs + deadlineMs (30 s by
# default). `docker stop` only waits 10 s before SIGKILL, so use `docker stop -t 40`,
# `docker run --stop-timeout 40`, compose `stop_grace_period: 40s`, or in Kubernetes
# `terminationGracePeriodSeconds: 40` or more.
#
# Pin the base image by digest in production (node:24-bookworm-slim@sha256:...).

# ---- build: full dependency tree, TypeScript -> dist/ -------------------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: dev-only packages (ganache's leveldown/keccak/secp256k1, esbuild) carry native
# install scripts that the TypeScript build never uses, and the slim image has no compiler for them.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies + compiled output only --------------------------------
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
# Default config; mount your own over it (Kubernetes: a ConfigMap mounted on /etc/ledgerproxy, as a
# directory, not with subPath, so that edits reach the pod; then SIGHUP or POST /admin/reload).
COPY proxy.config.yaml /etc/ledgerproxy/proxy.config.yaml
# LEDGERPROXY_LISTEN / LEDGERPROXY_ADMIN override server.listen / server.admin of whatever config is
# mounted: admin must listen beyond loopback here or probes and Prometheus cannot reach it.
# /healthz /readyz /metrics are open; /admin/* (purge, reload) answers loopback callers only,
# others with server.adminToken as a bearer token.
# A heap cap keeps RSS flat: without one V8 lets garbage pile up well past what the cache holds.
# About 2 x cache.memory.maxBytes + 64 MiB (the default maxBytes is 64 MiB); raise both together.
# Why that is enough: the process's own live heap is ~40 MiB, and L1 entries hold at most ~0.6 of
# what they are charged against maxBytes in heap (measured: 715 B per tiny entry charged 1,214 B;
# bodies live outside the heap), so the cap leaves V8 twice the live heap even for a full cache of
# tiny answers. The cap rarely binds: V8 sizes the heap at about twice what is live.
ENV LEDGERPROXY_CONFIG=/etc/ledgerproxy/proxy.config.yaml \
    LEDGERPROXY_LISTEN=0.0.0.0:8080 \
    LEDGERPROXY_ADMIN=0.0.0.0:9090 \
    NODE_OPTIONS=--max-old-space-size=192
# Code and config stay root-owned and read-only for the process; it writes nothing to disk.
# The `node` user of the official image is uid/gid 1000. In Kubernetes set runAsUser: 1000 (or
# runAsNonRoot alone fails on a named USER, which the kubelet cannot verify).
USER node
EXPOSE 8080 9090
# Docker / compose liveness only (Kubernetes ignores HEALTHCHECK and uses its own probes).
# No curl in slim images: node's fetch against the admin /healthz, port taken from
# LEDGERPROXY_ADMIN (default 9090), so overriding the admin port does not break the check.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["node", "-e", "const p=(process.env.LEDGERPROXY_ADMIN||'').split(':').pop()||'9090';fetch('http://127.0.0.1:'+p+'/healthz',{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
# Exec form: node is PID 1 and receives SIGTERM (drain) and SIGHUP (reload) directly. It spawns no
# children, so there is nothing to reap; add `docker run --init` (tini) if that ever changes.
# Arguments go after the image name: `docker run ... ledgerproxy check-config [FILE]`.
ENTRYPOINT ["node", "/app/dist/src/main.js"]
CMD []
