package docs_test

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// TestLinks checks every relative link in the repository's Markdown: the file must exist, and an
// anchor must be a heading of the page it points into. Links to other sites are not checked:
// the tests need no network.
func TestLinks(t *testing.T) {
	files, pages := repository(t)
	for _, problem := range checkLinks(files, pages) {
		t.Error(problem)
	}
}

// repository returns every file of the repository, tracked and new ones not ignored (slash-separated
// paths from its root, with the content of the Markdown ones), and the pages among them: the
// Markdown files outside third_party and node_modules.
func repository(t *testing.T) (files map[string]string, pages []string) {
	t.Helper()
	const root = ".."
	// Tracked files and new ones not ignored, so that a page is checked before its first commit
	// and a link to bin/ or node_modules/ (ignored, absent from a clone) is not taken as valid.
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files (the test needs git to know the repository's files): %v", err)
	}
	files = map[string]string{}
	for _, name := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if _, ok := files[name]; ok {
			continue
		}
		if !strings.HasSuffix(name, ".md") {
			files[name] = ""
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if os.IsNotExist(err) {
			continue // deleted, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
		if !strings.HasPrefix(name, "third_party/") && !slices.Contains(strings.Split(name, "/"), "node_modules") {
			pages = append(pages, name)
		}
	}
	if !slices.Contains(pages, "README.md") || !slices.Contains(pages, "docs/README.md") {
		t.Fatalf("found %d pages, not README.md and docs/README.md: is git listing the right tree?", len(pages))
	}
	return files, pages
}

// checkLinks returns a line for every broken link in pages. files maps every path in the
// repository (slash-separated, from its root) to its content; only Markdown's content is used.
func checkLinks(files map[string]string, pages []string) []string {
	anchorsOf := map[string]map[string]bool{}
	anchors := func(page string) map[string]bool {
		if a, ok := anchorsOf[page]; ok {
			return a
		}
		anchorsOf[page] = headingAnchors(files[page])
		return anchorsOf[page]
	}
	var problems []string
	for _, page := range pages {
		for _, l := range links(files[page]) {
			if msg := checkLink(files, anchors, page, l.target); msg != "" {
				problems = append(problems, fmt.Sprintf("%s:%d: %s: %s", page, l.line, l.target, msg))
			}
		}
	}
	return problems
}

var scheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)

// checkLink says what is wrong with one link from page, or "" if it resolves.
func checkLink(files map[string]string, anchors func(string) map[string]bool, page, target string) string {
	if scheme.MatchString(target) || strings.HasPrefix(target, "//") {
		return "" // another site, or mailto: and the like
	}
	p, fragment, hasFragment := strings.Cut(target, "#")
	p, err := url.PathUnescape(p)
	if err != nil {
		return "bad escape in the path"
	}
	resolved := page
	if p != "" {
		if strings.HasPrefix(p, "/") { // GitHub resolves these from the repository's root
			resolved = path.Clean(strings.TrimPrefix(p, "/"))
		} else {
			resolved = path.Join(path.Dir(page), p)
		}
		if resolved == ".." || strings.HasPrefix(resolved, "../") {
			return "points outside the repository"
		}
		if _, ok := files[resolved]; !ok && !isDir(files, resolved) {
			return fmt.Sprintf("no such file in the repository (%s)", resolved)
		}
	}
	if !hasFragment || !strings.HasSuffix(resolved, ".md") {
		return "" // only Markdown pages have headings to check; #L10 on code is GitHub's
	}
	fragment, err = url.PathUnescape(fragment)
	if err != nil {
		return "bad escape in the anchor"
	}
	if !anchors(resolved)[fragment] {
		return fmt.Sprintf("no heading in %s has the anchor #%s", resolved, fragment)
	}
	return ""
}

// isDir reports whether dir holds a file of the repository ("." always does).
func isDir(files map[string]string, dir string) bool {
	if dir == "." {
		return true
	}
	for name := range files {
		if strings.HasPrefix(name, dir+"/") {
			return true
		}
	}
	return false
}

type link struct {
	line   int
	target string
}

var (
	// [text](target) and ![alt](target), with an optional title; the target may hold one level
	// of parentheses, or be written <like this>.
	inlineLink = regexp.MustCompile(`\]\(\s*(?:<([^>]*)>|((?:[^()\s]|\([^()\s]*\))*))(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)`)
	// [label]: target
	definition = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?`)
)

// links lists the link targets of a Markdown page, outside code.
func links(page string) []link {
	var out []link
	for n, line := range prose(page) {
		if line == "" {
			continue
		}
		if m := definition.FindStringSubmatch(line); m != nil {
			out = append(out, link{n + 1, m[1]})
			continue
		}
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			out = append(out, link{n + 1, m[1] + m[2]})
		}
	}
	return out
}

var fence = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})")

// prose returns the page's lines with code blocks blanked and code spans removed, so that
// neither a link nor a heading is found in code (a shell comment is not a heading). Line numbers
// stay as they were.
func prose(page string) []string {
	lines := strings.Split(page, "\n")
	var open string // the fence of the code block we are in
	for i, line := range lines {
		if m := fence.FindStringSubmatch(line); m != nil {
			switch {
			case open == "":
				open = m[1]
			case m[1][0] == open[0] && len(m[1]) >= len(open) && strings.TrimSpace(line) == m[1]:
				open = ""
			}
			lines[i] = ""
			continue
		}
		if open != "" {
			lines[i] = ""
			continue
		}
		lines[i] = stripCodeSpans(line)
	}
	return lines
}

// stripCodeSpans removes `code` from a line: a run of backticks opens a span that the next run
// of the same length closes.
func stripCodeSpans(line string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(line, '`')
		if i < 0 {
			return b.String() + line
		}
		b.WriteString(line[:i])
		n := len(line[i:]) - len(strings.TrimLeft(line[i:], "`"))
		rest := line[i+n:]
		end := closingRun(rest, n)
		if end < 0 { // no closing run: the backticks are literal
			b.WriteString(line[i : i+n])
			line = rest
			continue
		}
		line = rest[end+n:]
	}
}

// closingRun finds a run of exactly n backticks in s.
func closingRun(s string, n int) int {
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '`' {
			j++
		}
		if j-i == n {
			return i
		}
		i = j
	}
	return -1
}

var (
	atxHeading = regexp.MustCompile(`^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	htmlAnchor = regexp.MustCompile(`<a\s[^>]*\b(?:name|id)="([^"]+)"`)
)

// headingAnchors returns the anchors GitHub gives a page: one per ATX heading (the pages here
// use no underlined headings), with -1, -2, ... on repeats, and any <a name> or <a id>.
func headingAnchors(page string) map[string]bool {
	anchors := map[string]bool{}
	occurrences := map[string]int{}
	raw := strings.Split(page, "\n")
	for i, line := range prose(page) {
		for _, m := range htmlAnchor.FindAllStringSubmatch(raw[i], -1) {
			anchors[m[1]] = true
		}
		m := atxHeading.FindStringSubmatch(raw[i])
		if m == nil || line == "" {
			continue
		}
		// The same numbering as github-slugger: a slug already taken gets the next free suffix.
		base := slug(m[1])
		s := base
		for {
			if _, taken := occurrences[s]; !taken {
				break
			}
			occurrences[base]++
			s = fmt.Sprintf("%s-%d", base, occurrences[base])
		}
		occurrences[s] = 0
		anchors[s] = true
	}
	return anchors
}

var (
	markdownLink = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTag      = regexp.MustCompile(`<[^>]+>`)
)

// slug is GitHub's anchor for a heading: the heading's text (links reduced to their text, tags
// dropped) in lower case, with letters, digits, marks, "-" and "_" kept, each space made "-",
// and every other character dropped.
func slug(heading string) string {
	text := markdownLink.ReplaceAllString(heading, "$1")
	text = htmlTag.ReplaceAllString(text, "")
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(text)) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), unicode.IsMark(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

func TestSlug(t *testing.T) {
	tests := []struct{ heading, want string }{
		{"Why it is correct", "why-it-is-correct"},
		{"Performance (`make bench`)", "performance-make-bench"},
		{"The contract: OpenAPI 3.1", "the-contract-openapi-31"},
		{"`MAX_IN_FLIGHT` and snake_case", "max_in_flight-and-snake_case"},
		{"Newest wins, in any order.", "newest-wins-in-any-order"},
		{"Ready -- or not", "ready----or-not"},
		{"C++ & Go!", "c--go"},
		{"[Replaying](operations.md) dead letters", "replaying-dead-letters"},
		{"A <code>tag</code> dropped", "a-tag-dropped"},
		{"Ünïcode café, ſex", "ünïcode-café-ſex"},
		{"  Leading and trailing  ", "leading-and-trailing"},
		{"Emoji 🚀 gone", "emoji--gone"},
	}
	for _, tt := range tests {
		t.Run(tt.heading, func(t *testing.T) {
			if got := slug(tt.heading); got != tt.want {
				t.Errorf("slug(%q) = %q, want %q", tt.heading, got, tt.want)
			}
		})
	}
}

// The checker on small repositories: each broken case must be reported, and each good one not.
func TestCheckLinks(t *testing.T) {
	other := "# Other\n\n## Setup\n\n## Setup\n\n## Setup\n\n```sh\n# not a heading\n```\n\n<a name=\"pinned\"></a>\n"
	tests := []struct {
		name string
		page string // README.md; the repository also holds docs/other.md (other) and code
		want []string
	}{
		{name: "file", page: "[a](docs/other.md) ![b](docs/chart.png) [c](docs/) [d](/docs/other.md)"},
		{name: "missing file", page: "x\n[a](docs/nope.md)",
			want: []string{"README.md:2: docs/nope.md: no such file in the repository (docs/nope.md)"}},
		{name: "escaped path", page: "[a](docs/my%20notes.md)"},
		{name: "outside the repository", page: "[a](../elsewhere.md)",
			want: []string{"README.md:1: ../elsewhere.md: points outside the repository"}},
		{name: "anchor here", page: "# Top\n\n## Run it\n[a](#run-it) [b](#top)"},
		{name: "missing anchor here", page: "# Top\n[a](#run)",
			want: []string{"README.md:2: #run: no heading in README.md has the anchor #run"}},
		{name: "anchor there", page: "[a](docs/other.md#setup) [b](docs/other.md#other)"},
		{name: "repeated headings", page: "[a](docs/other.md#setup-1) [b](docs/other.md#setup-2)"},
		{name: "one repeat too many", page: "[a](docs/other.md#setup-3)",
			want: []string{"README.md:1: docs/other.md#setup-3: no heading in docs/other.md has the anchor #setup-3"}},
		{name: "comment in a code block is no heading", page: "[a](docs/other.md#not-a-heading)",
			want: []string{"README.md:1: docs/other.md#not-a-heading: " +
				"no heading in docs/other.md has the anchor #not-a-heading"}},
		{name: "html anchor", page: "[a](docs/other.md#pinned)"},
		{name: "anchor into code is not checked", page: "[a](cmd/main.go#L10)"},
		{name: "links in code are not checked",
			page: "`[a](nope.md)`\n\n```md\n[b](nope.md)\n```\n~~~\n[c](nope.md)\n~~~"},
		{name: "other sites are not checked",
			page: "[a](https://example.com/x.md#y) [b](mailto:a@b.c) <https://example.com>"},
		{name: "reference definition", page: "[a][r]\n\n[r]: docs/gone.md",
			want: []string{"README.md:3: docs/gone.md: no such file in the repository (docs/gone.md)"}},
		{name: "title and angle brackets", page: `[a](docs/other.md "Other") [b](<docs/other.md#setup>)`},
		{name: "several on a line", page: "[a](x.md) [b](docs/other.md) [c](y.md#z)", want: []string{
			"README.md:1: x.md: no such file in the repository (x.md)",
			"README.md:1: y.md#z: no such file in the repository (y.md)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"README.md": tt.page, "docs/other.md": other, "docs/chart.png": "",
				"docs/my notes.md": "", "cmd/main.go": ""}
			got := checkLinks(files, []string{"README.md"})
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("from a page in a directory", func(t *testing.T) {
		files := map[string]string{"README.md": "# Run it\n",
			"docs/a.md": "[x](../README.md#run-it) [y](../README.md#walk-it) [z](b.md)"}
		got := checkLinks(files, []string{"docs/a.md"})
		want := []string{
			"docs/a.md:1: ../README.md#walk-it: no heading in README.md has the anchor #walk-it",
			"docs/a.md:1: b.md: no such file in the repository (docs/b.md)",
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}
