# The Switchboard gateway image: the `switchboard` binary only (built without the
# example backends and the `demo` command), on a distroless glibc base, running
# as an unprivileged user. Build from the repository root:
#
#   docker build -t switchboard:latest .
#
# scripts/docker-test.sh builds it and checks what it contains.

# ---- build ---------------------------------------------------------------------
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
# The release profile (fat LTO, one codegen unit) is what operators run; the
# cargo registry and target dir are cached between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p switchboard --no-default-features \
    && install -D -m 0755 target/release/switchboard /out/switchboard

# ---- runtime -------------------------------------------------------------------
# distroless/cc: glibc and libgcc, CA certificates, no shell, no package manager;
# the `nonroot` tag runs as uid/gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/switchboard /usr/local/bin/switchboard
USER 65532:65532
# Public listener and admin listener (set `admin: 0.0.0.0:9901` in the config for
# kubelet probes; it is loopback by default).
EXPOSE 8080 9901
ENTRYPOINT ["/usr/local/bin/switchboard"]
CMD ["serve", "--config", "/etc/switchboard/switchboard.yaml"]
