# Multi-stage build: a slim, non-root runtime base, one Rust builder, then one image per
# service (`--target auth` / `--target posts`; docker-compose.yml picks them).
# The runtime stage comes first so that the classic builder (docker-compose 1.x), which builds
# every stage up to the target, need not compile anything for it.

FROM debian:bookworm-slim AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --uid 10001 --home-dir /app --create-home app
WORKDIR /app
# Numeric, so that an orchestrator (Kubernetes `runAsNonRoot`) can check it is not root.
USER 10001:10001
ENV RUST_LOG=info

# Pinned to the toolchain Cargo.lock needs (the workspace's `rust-version`).
FROM rust:1.95-slim-bookworm AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev make perl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, against placeholder sources: this layer is rebuilt only when a
# manifest or the lock file changes, not on every source change.
COPY Cargo.toml Cargo.lock ./
COPY shared-claims/Cargo.toml shared-claims/
COPY service-kit/Cargo.toml service-kit/
COPY auth-service/Cargo.toml auth-service/
COPY posts-service/Cargo.toml posts-service/
COPY stack/Cargo.toml stack/
COPY test-support/Cargo.toml test-support/
COPY examples/bookmarks-service/Cargo.toml examples/bookmarks-service/
# Every workspace member's manifest is needed for the workspace to load.
RUN for crate in shared-claims service-kit auth-service posts-service stack test-support \
      examples/bookmarks-service; do \
      mkdir -p "$crate/src" && touch "$crate/src/lib.rs"; \
    done \
 && mkdir -p shared-claims/benches \
 && echo 'fn main() {}' > shared-claims/benches/verify.rs \
 && for bin in auth-service posts-service stack examples/bookmarks-service; do echo 'fn main() {}' > "$bin/src/main.rs"; done \
 && cargo build --release --locked -p auth-service -p posts-service \
 && rm -rf shared-claims service-kit auth-service posts-service stack test-support examples \
      target/release/.fingerprint/shared-claims-* target/release/.fingerprint/service-kit-* \
      target/release/.fingerprint/auth-service-* target/release/.fingerprint/posts-service-*
COPY . .
RUN cargo build --release --locked -p auth-service -p posts-service \
 && mkdir -p /out \
 && cp target/release/auth-service target/release/posts-service /out/

# Both binaries in one layer that the two images share (pulled and stored once), each with
# the one capability it uses: CAP_NET_ADMIN, to attach the socket filter that drains its
# listener on SIGTERM (README, "Stopping"). Effective only where the container allows it
# (docker-compose.yml: cap_drop ALL, cap_add NET_ADMIN); elsewhere the drain is skipped.
FROM runtime AS services
COPY --from=build /out/auth-service /out/posts-service /usr/local/bin/
USER 0:0
RUN setcap cap_net_admin+ep /usr/local/bin/auth-service \
 && setcap cap_net_admin+ep /usr/local/bin/posts-service
USER 10001:10001

FROM services AS auth
ENV BIND_ADDR=0.0.0.0:8001
EXPOSE 8001
ENTRYPOINT ["auth-service"]

FROM services AS posts
ENV BIND_ADDR=0.0.0.0:8000
EXPOSE 8000
ENTRYPOINT ["posts-service"]
