# spacekeeper's image: `make image` builds it (IMAGE=spacekeeper:dev), `make
# test-image` runs it as a cluster would. Plain `docker build` needs
# --build-arg VERSION=<what spacekeeper --version prints> and SOURCE.
#
# Built on Debian with the -dev packages; the runtime is debian:bookworm-slim
# plus the binaries and only the shared objects they load that slim lacks,
# found with ldd, so a library linked later needs no edit here.
FROM debian:bookworm-slim AS runtime-base

FROM debian:bookworm AS build
# make image keeps the newest build stage tagged (spacekeeper-build:cache) for
# the next build and prunes the older ones by this label
LABEL org.opencontainers.image.title="spacekeeper-build"
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config musl-tools ca-certificates libmicrohttpd-dev libgnutls28-dev libssl-dev \
      libjansson-dev libyaml-dev libcurl4-openssl-dev libpcre2-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY include include
COPY src src
RUN make -j"$(nproc)" all && strip build/spacekeeper build/spacekeeper-controller

# The label must say what the binary says.
ARG VERSION
RUN v=$(build/spacekeeper --version) && [ "$v" = "spacekeeper $VERSION" ] \
    || { echo "--build-arg VERSION=$VERSION, but the source builds \"$v\"" >&2; exit 1; }

# /stage is the runtime's files: the binaries (spacekeeper-pause is static:
# the preload DaemonSets' init container copies it out), each shared object
# not already in the base's loader cache, a dpkg record per package those
# come from (status.d, as distroless images keep them, for scanners) with
# its copyright file, and the CA bundle.
COPY --from=runtime-base /etc/ld.so.cache /tmp/base-ld.so.cache
RUN mkdir -p /stage/usr/local/bin /stage/var/lib/dpkg/status.d /stage/etc/ssl/certs \
    && cp build/spacekeeper build/spacekeeper-controller build/spacekeeper-pause /stage/usr/local/bin/ \
    && cp /etc/ssl/certs/ca-certificates.crt /stage/etc/ssl/certs/ \
    && ldconfig -p -C /tmp/base-ld.so.cache | awk '{print $1}' | sort -u > /tmp/base-sonames \
    && ldd build/spacekeeper build/spacekeeper-controller | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' \
       | sort -u | while read -r soname path; do \
         grep -qxF "$soname" /tmp/base-sonames && continue; \
         real=$(realpath "$path"); dir=$(dirname "$real"); mkdir -p "/stage$dir"; \
         cp "$real" "/stage$dir/$soname"; \
         pkg=$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}") || { echo "no package has $real" >&2; exit 1; }; \
         pkg=${pkg%%: *}; dpkg-query -s "$pkg" > "/stage/var/lib/dpkg/status.d/${pkg%%:*}"; \
         cp --parents "/usr/share/doc/${pkg%%:*}/copyright" /stage/; \
         echo "runtime: $soname from $pkg"; \
       done

FROM runtime-base
ARG VERSION
ARG SOURCE
ARG REVISION=unknown
LABEL org.opencontainers.image.title="spacekeeper" \
      org.opencontainers.image.description="WorkspaceTemplate enforcement for Workspaces: admission webhook, offline checker, controller" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.source="$SOURCE" \
      org.opencontainers.image.revision="$REVISION" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /stage/ /
RUN ldconfig
COPY LICENSE /usr/share/doc/spacekeeper/LICENSE
# the system templates, for `spacekeeper check -t /etc/spacekeeper/templates` in CI jobs
COPY manifests/templates/*.yaml /etc/spacekeeper/templates/
USER 65532:65532
EXPOSE 8443 8081
ENTRYPOINT ["/usr/local/bin/spacekeeper"]
# in a pod, templates are watched from the API server (in-cluster config)
CMD ["serve", "--tls-cert=/etc/spacekeeper/tls/tls.crt", "--tls-key=/etc/spacekeeper/tls/tls.key"]
