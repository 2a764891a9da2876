// Package version says which build a binary is: the version stamped into it when it was built
// (`make build` and the images pass it to the linker), shown by -h, /healthz and the
// patient_profile_build_info metric, so that an operator can tell which code answers.
package version

import "runtime/debug"

// stamped is set by the linker: go build -ldflags "-X <module>/internal/version.stamped=v1.2.3".
// It is a variable, not a constant, because -X can only set variables.
var stamped string

// String is the stamped version; without one, what the Go toolchain recorded (the module's
// version for `go install ...@v1.2.3`, the VCS revision for a build in a checkout); else "dev".
func String() string {
	if stamped != "" {
		return stamped
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return fromBuildInfo(info)
}

func fromBuildInfo(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if revision == "" {
		return "dev"
	}
	v := "dev+" + revision[:min(12, len(revision))]
	if modified == "true" {
		v += "-dirty"
	}
	return v
}
