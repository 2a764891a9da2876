package version

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := func(revision, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs.revision", Value: revision}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"go install of a tagged module", debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"a build in a clean checkout", debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("0123456789abcdef0123", "false")}, "dev+0123456789ab"},
		{"a build in a changed checkout", debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("0123456789abcdef0123", "true")}, "dev+0123456789ab-dirty"},
		{"no version, no VCS (-buildvcs=false)", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, fromBuildInfo(&tt.info))
		})
	}
}

func TestStampedWins(t *testing.T) {
	old := stamped
	t.Cleanup(func() { stamped = old })
	stamped = "v9.9.9"
	assert.Equal(t, "v9.9.9", String())
}
