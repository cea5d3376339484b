package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/quorumlab/quorumlab/cluster"
)

// imageRepo is the node image's repository; the tag is a content hash.
const imageRepo = "quorumlab-kvnode"

// dockerfile puts the static kvnode alone in an empty image: FROM scratch
// needs no pull, and a multi-stage build from a Go image would.
const dockerfile = `FROM scratch
COPY kvnode /kvnode
ENTRYPOINT ["/kvnode"]
`

// ensureImage returns the tag of the node image for the kvnode binary at
// bin, building it first unless an image of that content exists.
func ensureImage(ctx context.Context, p *testcontainers.DockerProvider, bin string, log *slog.Logger) (string, error) {
	binary, err := os.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("node image: %w", err)
	}
	tag := imageTag(binary)
	ref := imageRepo + ":" + tag
	found, err := p.Client().ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", ref)})
	if err != nil {
		return "", fmt.Errorf("node image: list images: %w", err)
	}
	if len(found.Items) > 0 {
		return ref, nil
	}

	archive, err := buildContext(dockerfile, binary)
	if err != nil {
		return "", fmt.Errorf("node image: %w", err)
	}
	start := time.Now()
	if err := buildImage(ctx, p, tag, archive); err != nil {
		return "", fmt.Errorf("build the node image from %s: %w", bin, err)
	}
	log.Info("built node image", "image", ref, "took", time.Since(start).Round(time.Millisecond))
	return ref, nil
}

// buildImage builds and keeps imageRepo:tag from a build context. Its
// error ends with the build log's tail.
func buildImage(ctx context.Context, p *testcontainers.DockerProvider, tag string, archive []byte) error {
	var buildLog bytes.Buffer
	req := testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		ContextArchive: bytes.NewReader(archive),
		Repo:           imageRepo,
		Tag:            tag,
		KeepImage:      true, // the next run with this binary reuses it
		BuildLogWriter: &buildLog,
		BuildOptionsModifier: func(o *client.ImageBuildOptions) {
			o.Labels = map[string]string{labelImage: "kvnode"}
		},
	}}
	if _, err := p.BuildImage(ctx, &req); err != nil {
		return fmt.Errorf("%s:%s: %w; end of the build log:\n%s",
			imageRepo, tag, err, cluster.Tail(buildLog.String(), 20))
	}
	return nil
}

// imageTag is a hash of everything the image is built from.
func imageTag(binary []byte) string {
	h := sha256.New()
	h.Write([]byte(dockerfile))
	h.Write(binary)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// buildContext is a tar archive holding a Dockerfile and the binary.
func buildContext(dockerfile string, binary []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte(dockerfile)},
		{"kvnode", 0o755, binary},
	} {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("build context: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("build context: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	return buf.Bytes(), nil
}
