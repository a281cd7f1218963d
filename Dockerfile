# syntax=docker/dockerfile:1
#
# One image for every escapement stage: a static binary on a distroless base.
#   docker build -t escapement:dev --build-arg VERSION=$(git describe --always --dirty) .
#   docker run --rm escapement:dev version
# docker-compose.yml runs each stage from this image with its own command.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/escapement ./cmd/escapement \
    && mkdir -p /out/var/lib/escapement

FROM gcr.io/distroless/static-debian12:nonroot
# State (SQLite store, model registry, archives) lives here; compose mounts a volume on it.
COPY --from=build --chown=65532:65532 /out/var/lib/escapement /var/lib/escapement
COPY --from=build /out/escapement /usr/local/bin/escapement
USER 65532:65532
WORKDIR /var/lib/escapement
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/escapement"]
CMD ["--help"]
