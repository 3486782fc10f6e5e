FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src src
COPY benches benches
RUN cargo build --release --bin partproxy

FROM debian:bookworm-slim
COPY --from=build /src/target/release/partproxy /usr/local/bin/partproxy
COPY config/partproxy.example.toml /etc/partproxy/partproxy.example.toml
EXPOSE 6432 9930
ENTRYPOINT ["/usr/local/bin/partproxy"]
