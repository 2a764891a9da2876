# syntax=docker/dockerfile:1
# The image of one binary: producer, consumer or replay-dlq (BINARY). `make image` builds all
# three; by hand:
#   docker build --build-arg BINARY=consumer --build-arg VERSION=v1.2.3 -t patient-profile/consumer:v1.2.3 .
# Two stages: Go compiles a static binary, stamped with VERSION; the image that runs is scratch
# with that binary, CA certificates (for TLS to MSK and DynamoDB) and a non-root user. No shell,
# no package manager, nothing else to patch or exploit. docs/deploying.md says more.

# The build stage's base. Where registries are out of reach, deploy/image/go-builder.sh makes a
# stand-in from the machine's own Go toolchain.
ARG GO_IMAGE=docker.io/library/golang:1.26.8-bookworm

# The build runs on the builder's platform and cross-compiles for the target's (docker buildx
# build --platform linux/amd64,linux/arm64 makes one image for x86 and Graviton nodes).
FROM --platform=${BUILDPLATFORM} ${GO_IMAGE} AS build
ARG TARGETOS
ARG TARGETARCH
ARG BINARY
ARG VERSION=dev
ARG GOPROXY=https://proxy.golang.org,direct
WORKDIR /src
# The static binary needs no C library at run time; GOTOOLCHAIN=local builds with the image's Go
# instead of downloading the one go.mod names.
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOOS=${TARGETOS} GOARCH=${TARGETARCH}
COPY . .
# The caches outlive the build, so that the second binary, and the next build, compile only what
# changed. go build downloads only the modules the binary needs (not the tools in go.mod).
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    test -n "${BINARY}" && \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/ankitamadan/patient-profile/internal/version.stamped=${VERSION}" \
      -o /out/app "./cmd/${BINARY}" && \
    echo 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin' > /out/passwd && \
    echo 'nonroot:x:65532:' > /out/group

FROM scratch
ARG BINARY
ARG VERSION=dev
LABEL org.opencontainers.image.title="patient-profile-${BINARY}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/ankitamadan/patient-profile"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/passwd /etc/passwd
COPY --from=build /out/group /etc/group
COPY --from=build /out/app /app
# By number, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/app"]
