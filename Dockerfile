# Multi-stage build: compile in the Rust image, run in a slim Debian image as a non-root user.
FROM rust:1.95-slim-bookworm AS build
# aws-lc-sys (TLS for the Palette client) compiles C.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Cargo.toml names every target (tests, the bench driver), so the whole tree is needed.
COPY . .
RUN cargo build --release --locked --bin spectrocloud-backend

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
 && mkdir -p /app/data && chown app /app/data
WORKDIR /app
COPY --from=build /src/target/release/spectrocloud-backend /usr/local/bin/spectrocloud-backend
COPY config.docker.toml /app/config.toml
USER app
VOLUME ["/app/data"]
EXPOSE 7007
ENTRYPOINT ["spectrocloud-backend"]
CMD ["serve", "--config", "/app/config.toml"]
