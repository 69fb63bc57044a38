# Multi-stage: build on Debian with the -dev packages, run on slim Debian
# with only the shared libraries, as a non-root user.
FROM debian:bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config libmicrohttpd-dev libgnutls28-dev libssl-dev libjansson-dev \
      libyaml-dev libcurl4-openssl-dev musl-tools \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY include include
COPY src src
RUN make -j"$(nproc)" all

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libgnutls30 libssl3 libjansson4 libyaml-0-2 libcurl4 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# every binary the build made: spacekeeper (serve, check, certs), the controller, and
# spacekeeper-pause (static; the preload DaemonSets' init container copies it out)
COPY --from=build /src/build/spacekeeper* /usr/local/bin/
# the system templates, for `spacekeeper check -t /etc/spacekeeper/templates` in CI jobs
COPY manifests/templates/*.yaml /etc/spacekeeper/templates/
USER 65532:65532
EXPOSE 8443 8081
ENTRYPOINT ["/usr/local/bin/spacekeeper"]
# in a pod, templates are watched from the API server (in-cluster config)
CMD ["serve", "--tls-cert=/etc/spacekeeper/tls/tls.crt", "--tls-key=/etc/spacekeeper/tls/tls.key"]
