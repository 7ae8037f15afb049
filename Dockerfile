# Multi-stage build of the jumpcloud-ocsf binary; the runtime image is small and runs as non-root.
# rust:1-bookworm carries libssl-dev and pkg-config: rdkafka links the system's OpenSSL (TLS, SASL).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p jumpcloud-ocsf \
 && strip target/release/jumpcloud-ocsf

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/jumpcloud-ocsf --create-home jcocsf
COPY --from=build /src/target/release/jumpcloud-ocsf /usr/local/bin/jumpcloud-ocsf
USER 10001:10001
WORKDIR /var/lib/jumpcloud-ocsf
ENTRYPOINT ["/usr/local/bin/jumpcloud-ocsf"]
CMD ["--help"]
