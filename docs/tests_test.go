package docs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	// A package of the module named in a page, in backquotes: `internal/store`, `cmd/consumer`.
	packageRef = regexp.MustCompile("`((?:internal|cmd)/[a-z0-9/-]+|devstack|docs|deploy)`")
	// A test, fuzz target or benchmark named in a page: `TestSoak`, `FuzzDecode`.
	testRef = regexp.MustCompile("`((?:Test|Fuzz|Benchmark)[A-Za-z0-9_]+)(?:/[^`]*)?`")
	// The declaration of one, in a _test.go file.
	testDecl = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)[A-Za-z0-9_]+)\(`)
)

// The pages say which test checks each promise, as "`internal/store` `TestPutRejected`". A test
// renamed or moved to another package must take the page with it, or the page sends a reader to
// a test that does not exist.
func TestNamedTestsExist(t *testing.T) {
	files, pages := repository(t)
	declared := map[string]map[string]bool{} // package dir -> tests
	testsIn := func(dir string) map[string]bool {
		if tests, ok := declared[dir]; ok {
			return tests
		}
		tests := map[string]bool{}
		matches, _ := filepath.Glob(filepath.Join("..", dir, "*_test.go"))
		for _, m := range matches {
			b, err := os.ReadFile(m)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range testDecl.FindAllStringSubmatch(string(b), -1) {
				tests[d[1]] = true
			}
		}
		declared[dir] = tests
		return tests
	}
	for _, page := range pages {
		for _, paragraph := range strings.Split(files[page], "\n\n") {
			for _, problem := range namedTests(paragraph, testsIn) {
				t.Errorf("%s: %s", page, problem)
			}
		}
	}
}

// namedTests checks the tests a paragraph names: each must be declared in the package named
// last before it in the paragraph.
func namedTests(paragraph string, testsIn func(dir string) map[string]bool) []string {
	var problems []string
	pkg := ""
	refs := append(packageRef.FindAllStringSubmatchIndex(paragraph, -1), testRef.FindAllStringSubmatchIndex(paragraph, -1)...)
	sortByStart(refs)
	for _, r := range refs {
		name := paragraph[r[2]:r[3]]
		if !strings.HasPrefix(name, "Test") && !strings.HasPrefix(name, "Fuzz") && !strings.HasPrefix(name, "Benchmark") {
			pkg = name
			continue
		}
		switch {
		case pkg == "":
			problems = append(problems, "`"+name+"` is named with no package before it")
		case !testsIn(pkg)[name]:
			problems = append(problems, "`"+pkg+"` has no `"+name+"`")
		}
	}
	return problems
}

func sortByStart(refs [][]int) {
	for i := 1; i < len(refs); i++ {
		for j := i; j > 0 && refs[j][0] < refs[j-1][0]; j-- {
			refs[j], refs[j-1] = refs[j-1], refs[j]
		}
	}
}

func TestNamedTestsCheck(t *testing.T) {
	tests := map[string]map[string]bool{
		"internal/store": {"TestPutRejected": true},
		"internal/e2e":   {"TestSoak": true},
	}
	testsIn := func(dir string) map[string]bool { return tests[dir] }
	cases := []struct {
		name, paragraph string
		wantProblems    int
	}{
		{"a test in its package", "`internal/store` `TestPutRejected`", 0},
		{"two packages", "`internal/store` `TestPutRejected`; `internal/e2e` `TestSoak/phase_2`", 0},
		{"a moved test", "`internal/e2e` `TestPutRejected`", 1},
		{"a renamed test", "`internal/store` `TestPutRefused`", 1},
		{"no package", "see `TestSoak`", 1},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			if got := namedTests(tt.paragraph, testsIn); len(got) != tt.wantProblems {
				t.Errorf("got %d problems (%q), want %d", len(got), got, tt.wantProblems)
			}
		})
	}
}
