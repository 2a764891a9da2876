package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
)

// podman runs a container here: rootful, with runc, the host's network and the limits runc can
// set on these machines (docs/deploying.md, What was exercised where).
var podmanRun = []string{"run", "--rm", "--runtime", "runc", "--network", "host",
	"--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"}

// The images build from the Dockerfile, as `make image` builds them, and their entrypoints start:
// each prints its -h with the stamped version, as the non-root user, with nothing but the binary,
// the CA certificates and the user's line in the image. It needs buildah and podman as root; without
// them (a CI machine with no container runtime) it is skipped. Where no registry can be reached
// for the Go image, deploy/image/go-builder.sh makes one from this machine's Go.
func TestImages(t *testing.T) {
	devenvtest.SkipIfShort(t)
	for _, tool := range []string{"buildah", "podman"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s here: the images are built and run where a container runtime is", tool)
		}
	}
	if os.Getuid() != 0 {
		t.Skip("buildah and podman run as root here")
	}
	goImage := os.Getenv("GO_IMAGE")
	if goImage == "" {
		goImage = "docker.io/library/golang:" + strings.TrimPrefix(runtime.Version(), "go") + "-bookworm"
	}
	if exec.Command("podman", "image", "exists", goImage).Run() != nil {
		// No Go image here: the stand-in, which needs a static busybox for its shell.
		if out, err := exec.Command("file", "-L", "/bin/busybox").Output(); err != nil ||
			!strings.Contains(string(out), "statically linked") {
			t.Skipf("no %s here, and no static busybox to make a stand-in with (Debian: busybox-static)", goImage)
		}
		out, err := exec.Command(filepath.Join(root, "deploy", "image", "go-builder.sh")).Output()
		require.NoError(t, err, "deploy/image/go-builder.sh: %s", out)
		goImage = strings.TrimSpace(string(out))
	}

	for _, bin := range []string{"producer", "consumer", "replay-dlq"} {
		t.Run(bin, func(t *testing.T) {
			tag := "localhost/patient-profile-test/" + bin + ":" + stamp
			build := exec.Command("buildah", "build", "--network", "host",
				"--build-arg", "BINARY="+bin, "--build-arg", "VERSION="+stamp, "--build-arg", "GO_IMAGE="+goImage,
				"-t", tag, ".")
			build.Dir = root
			out, err := build.CombinedOutput()
			require.NoError(t, err, "buildah build: %s", out)
			t.Cleanup(func() { _ = exec.Command("podman", "rmi", "-f", tag).Run() })

			out, err = exec.Command("podman", append(podmanRun, tag, "-h")...).CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), "Usage: ")
			assert.Contains(t, string(out), "Version: "+stamp)

			out, err = exec.Command("podman", "image", "inspect", "--format",
				"{{.Config.User}} {{.Config.Entrypoint}}", tag).Output()
			require.NoError(t, err)
			assert.Equal(t, "65532:65532 [/app]", strings.TrimSpace(string(out)))

			// Everything the image holds: a file more is something more to patch.
			ctr, err := exec.Command("buildah", "from", tag).Output()
			require.NoError(t, err)
			name := strings.TrimSpace(string(ctr))
			defer func() { _ = exec.Command("buildah", "rm", name).Run() }()
			mnt, err := exec.Command("buildah", "mount", name).Output()
			require.NoError(t, err)
			var files []string
			dir := strings.TrimSpace(string(mnt))
			require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(dir, path)
					files = append(files, rel)
				}
				return err
			}))
			assert.ElementsMatch(t, []string{"app", "etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt"}, files)
		})
	}
}
