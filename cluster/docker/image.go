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
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/quorumlab/quorumlab/cluster/launch"
)

// image is what a node image is built from: FROM scratch and these files,
// so no build ever pulls (a multi-stage build from a Go image would).
type image struct {
	repo       string // the tag is a content hash
	entrypoint string
	files      []imageFile
}

type imageFile struct {
	path string // absolute, in the image
	mode int64
	data []byte
}

// kvnodeImage holds the static kvnode and, unless netfaultBin is empty, the
// static netfault that changes the container's nftables.
func kvnodeImage(bin, netfaultBin string) (image, error) {
	img := image{repo: "quorumlab-kvnode", entrypoint: "/kvnode"}
	if err := img.add("/kvnode", bin); err != nil {
		return image{}, fmt.Errorf("node image: %w", err)
	}
	if err := img.addNetfault(netfaultBin); err != nil {
		return image{}, fmt.Errorf("node image: %w", err)
	}
	return img, nil
}

// etcdImage holds etcd with the loader and libraries it links against
// (Debian's build is dynamic) and, unless netfaultBin is empty, netfault.
func etcdImage(etcdBin, netfaultBin string) (image, error) {
	img := image{repo: "quorumlab-etcd", entrypoint: "/etcd"}
	objs, err := launch.SharedObjects(etcdBin)
	if err != nil {
		return image{}, fmt.Errorf("etcd image: %w", err)
	}
	if err := img.add("/etcd", etcdBin); err != nil {
		return image{}, fmt.Errorf("etcd image: %w", err)
	}
	for _, p := range objs {
		if err := img.add(p, p); err != nil {
			return image{}, fmt.Errorf("etcd image: %w", err)
		}
	}
	if err := img.addNetfault(netfaultBin); err != nil {
		return image{}, fmt.Errorf("etcd image: %w", err)
	}
	return img, nil
}

// netfaultPath is where images hold netfault.
const netfaultPath = "/netfault"

func (img *image) addNetfault(bin string) error {
	if bin == "" {
		return nil
	}
	return img.add(netfaultPath, bin)
}

// add copies the host file src into the image at path, executable.
func (img *image) add(path, src string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	img.files = append(img.files, imageFile{path, 0o755, b})
	return nil
}

func (img image) dockerfile() string {
	var b strings.Builder
	b.WriteString("FROM scratch\n")
	for _, f := range img.files {
		fmt.Fprintf(&b, "COPY %s %s\n", strings.TrimPrefix(f.path, "/"), f.path)
	}
	fmt.Fprintf(&b, "ENTRYPOINT [%q]\n", img.entrypoint)
	return b.String()
}

// ensureImage returns the tag of img, building it first unless an image
// of that content exists.
func ensureImage(ctx context.Context, p *testcontainers.DockerProvider, img image, log *slog.Logger) (string, error) {
	tag := img.tag()
	ref := img.repo + ":" + tag
	found, err := p.Client().ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", ref)})
	if err != nil {
		return "", fmt.Errorf("node image: list images: %w", err)
	}
	if len(found.Items) > 0 {
		return ref, nil
	}
	archive, err := img.buildContext()
	if err != nil {
		return "", fmt.Errorf("node image: %w", err)
	}
	start := time.Now()
	if err := buildImage(ctx, p, img.repo, tag, archive); err != nil {
		return "", fmt.Errorf("build the node image: %w", err)
	}
	log.Info("built node image", "image", ref, "took", time.Since(start).Round(time.Millisecond))
	return ref, nil
}

// buildImage builds and keeps repo:tag from a build context. Its error
// ends with the build log's tail.
func buildImage(ctx context.Context, p *testcontainers.DockerProvider, repo, tag string, archive []byte) error {
	var buildLog bytes.Buffer
	req := testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		ContextArchive: bytes.NewReader(archive),
		Repo:           repo,
		Tag:            tag,
		KeepImage:      true, // the next run with these binaries reuses it
		BuildLogWriter: &buildLog,
		BuildOptionsModifier: func(o *client.ImageBuildOptions) {
			o.Labels = map[string]string{labelImage: strings.TrimPrefix(repo, "quorumlab-")}
		},
	}}
	if _, err := p.BuildImage(ctx, &req); err != nil {
		return fmt.Errorf("%s:%s: %w; end of the build log:\n%s", repo, tag, err, launch.Tail(buildLog.String(), 20))
	}
	return nil
}

// tag is a hash of everything the image is built from.
func (img image) tag() string {
	h := sha256.New()
	h.Write([]byte(img.dockerfile()))
	for _, f := range img.files {
		h.Write(f.data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// buildContext is a tar archive holding the Dockerfile and the files.
func (img image) buildContext() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := append([]imageFile{{"/Dockerfile", 0o644, []byte(img.dockerfile())}}, img.files...)
	for _, f := range files {
		hdr := &tar.Header{Name: strings.TrimPrefix(f.path, "/"), Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}
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
