package console

import (
	"bytes"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/problem"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// static is what /static/ serves: the stylesheet and the one script.
func static() fs.FS {
	sub, _ := fs.Sub(staticFiles, "static") // a constant path into the embedded tree: cannot fail
	return sub
}

// pages are the templates, each parsed with the layout.
var pages = parsePages()

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
	},
	"stamp":       func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"num":         groupDigits,
	"ms":          func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) },
	"add":         func(a, b int64) int64 { return a + b },
	"statusClass": statusClass,
	"sub":         func(a, b int64) int64 { return a - b },
	"len64":       func(n int) int64 { return int64(n) },
}

func parsePages() map[string]*template.Template {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		out[base] = template.Must(template.New(base).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", n))
	}
	return out
}

// view is what every page's layout reads, and the page's own data.
type view struct {
	Title string
	// Nav is the section the page belongs to, marked in the navigation.
	Nav  string
	Who  string
	CSRF string
	// Notes say what the console changed of what was asked (an offset clamped, for example).
	Notes []string
	Data  any
}

// render writes page name with data. The answer's Server-Timing says how long the server took,
// which a browser's developer tools show and `make bench` reads.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	v.Who = who(r.Context())
	v.CSRF = c.access.csrf(v.Who)
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.logger.Error("render page", "page", name, "error", err.Error())
		problem.Write(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	addTiming(w, r, "app")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail answers err: as a page for a browser, as a problem (application/problem+json) for any other
// client. An error that is not a *problem.Error is logged, and shown as an internal error.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	var pe *problem.Error
	switch {
	case !errors.As(err, &pe):
		c.logger.Error("console request failed", "path", r.URL.Path, "error", err.Error())
		pe = problem.Errorf(problem.Internal, "the console failed to answer; its log says why")
	case !isBare(err, pe): // a problem with its cause wrapped: the page says what, the log why
		c.logger.Warn("console request failed", "path", r.URL.Path, "error", err.Error())
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		problem.Write(w, r, pe)
		return
	}
	c.render(w, r, problem.Status(pe.Kind), "error", view{Title: http.StatusText(problem.Status(pe.Kind)),
		Data: pe.Detail})
}

// maxShown is the most of one value a page shows: beyond it, the value is cut and its size said.
const maxShown = 64 << 10

// shown is a message value (or a header value) as a page shows it.
type shown struct {
	// Kind is "json" (pretty-printed), "text", "hex" (not UTF-8), "tombstone" (a null value) or
	// "empty".
	Kind string
	Text string
	// Size is the whole value's, in bytes; Cut says only the first maxShown are in Text.
	Size int
	Cut  bool
}

// show prepares v for a page. The template escapes whatever Text holds, so markup in a value is
// shown as text.
func show(v []byte) shown {
	s := shown{Size: len(v)}
	switch {
	case v == nil:
		s.Kind = "tombstone"
		return s
	case len(v) == 0:
		s.Kind = "empty"
		return s
	case len(v) > maxShown:
		v, s.Cut = v[:maxShown], true
	}
	switch {
	case utf8.Valid(v) && !s.Cut && json.Valid(v):
		var buf bytes.Buffer
		_ = json.Indent(&buf, v, "", "  ") // valid JSON indents
		s.Kind, s.Text = "json", buf.String()
	case validCut(v, s.Cut):
		s.Kind, s.Text = "text", string(trimPartialRune(v))
	default:
		s.Kind, s.Text = "hex", hex.Dump(v)
	}
	return s
}

// validCut reports whether v is UTF-8, allowing a rune split by the cut at its end.
func validCut(v []byte, cut bool) bool {
	if cut {
		v = trimPartialRune(v)
	}
	return utf8.Valid(v)
}

func trimPartialRune(v []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(v) > 0; i++ {
		if r, size := utf8.DecodeLastRune(v); r != utf8.RuneError || size > 1 {
			return v
		}
		v = v[:len(v)-1]
	}
	return v
}

// header is one record header as a page shows it.
type header struct {
	Key   string
	Value shown
}

func showHeaders(hs []message.Header) []header {
	out := make([]header, 0, len(hs))
	for _, h := range hs {
		v := show(h.Value)
		if v.Kind == "json" { // a header is shown as it is, not reformatted
			v.Kind, v.Text = "text", string(h.Value)
		}
		out = append(out, header{Key: h.Key, Value: v})
	}
	return out
}

// groupDigits writes n with thin separators: 1,000,000.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// isBare reports whether err is the problem pe itself, with no cause wrapped under it.
func isBare(err error, pe *problem.Error) bool {
	bare, ok := err.(*problem.Error) //nolint:errorlint // whether err is pe itself, not whether it wraps one
	return ok && bare == pe
}
