# syntax=docker/dockerfile:1
#
# The indexer image: every release binary (ender, vulcan, roundtable, comlink, socks, bazooka,
# devnet) in one slim runtime image; the container's command picks the component, e.g.
#   docker build -t indexer .
#   docker run --rm indexer bazooka migrate
#   docker run --rm -p 8080:8080 -p 9004:9004 indexer comlink
# ECS task definitions (deploy/ecs) run it the same way, with command ["comlink"] etc.

ARG RUST_VERSION=1
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
# The cache mounts keep downloaded crates and build output between builds on the same builder;
# the binaries are copied out of the target cache because it is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
    && mkdir -p /out \
    && for bin in ender vulcan roundtable comlink socks bazooka devnet; do \
         cp "target/release/${bin}" /out/; \
       done

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates: TLS to AWS and Bugsnag; curl: the health check. zlib (used by the Kafka
# client) is already part of the base image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 indexer \
    && useradd --system --uid 10001 --gid indexer --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin indexer
COPY --from=builder /out/ /usr/local/bin/
COPY deploy/docker/healthcheck.sh /usr/local/bin/indexer-healthcheck
# Structured logs unless told otherwise (the services default to human-readable output in
# development).
ENV LOG_FORMAT=json
USER 10001:10001
# comlink API, socks websocket, then the admin ports (health, metrics) of ender, vulcan,
# roundtable, comlink, socks and devnet.
EXPOSE 8080 8081 9001 9002 9003 9004 9005 9006
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["indexer-healthcheck"]
CMD ["bazooka", "--help"]
