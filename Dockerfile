# regionnode: one region of a live iamprop cluster, as a static binary on
# an empty image (no shell, no package manager: nothing to patch but us).
#
#   docker build -t iamprop/regionnode .
#   docker run --rm -e IAMPROP_GOSSIP_KEY -e IAMPROP_API_TOKEN iamprop/regionnode --region eu-west-1 ...
#
# Inside a container the listeners must bind a non-loopback address to be
# reachable, so the node insists on a gossip key and an API token (see
# deploy/).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO off: a static binary that runs FROM scratch. -trimpath: no build paths.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/regionnode ./cmd/regionnode \
 && mkdir -p /out/data && chown 65532:65532 /out/data

FROM scratch
COPY --from=build /out/regionnode /regionnode
COPY --from=build --chown=65532:65532 /out/data /data
# An unprivileged user; the data directory is its only writable place.
USER 65532:65532
VOLUME ["/data"]
EXPOSE 7946/tcp 7946/udp 8080/tcp
# Listen on the container's interfaces; flags given to `docker run` win.
ENV IAMPROP_GOSSIP=0.0.0.0:7946 IAMPROP_HTTP=0.0.0.0:8080 IAMPROP_DATA_DIR=/data IAMPROP_GOSSIP_PRESET=lan
ENTRYPOINT ["/regionnode"]
