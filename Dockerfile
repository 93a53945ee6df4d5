# syntax=docker/dockerfile:1
# Multi-stage build: one builder, then a slim, non-root runtime image per service
# (`--target auth` / `--target posts`; docker-compose.yml picks them).

FROM rust:1-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev make perl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p auth-service -p posts-service \
 && mkdir -p /out \
 && cp target/release/auth-service target/release/posts-service /out/

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --create-home app
WORKDIR /app
USER app
ENV RUST_LOG=info

FROM runtime AS auth
COPY --from=build /out/auth-service /usr/local/bin/auth-service
ENV BIND_ADDR=0.0.0.0:8001
EXPOSE 8001
ENTRYPOINT ["auth-service"]

FROM runtime AS posts
COPY --from=build /out/posts-service /usr/local/bin/posts-service
ENV BIND_ADDR=0.0.0.0:8000
EXPOSE 8000
ENTRYPOINT ["posts-service"]
