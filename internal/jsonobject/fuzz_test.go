package jsonobject_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ankitamadan/patient-profile/internal/jsonobject"
)

// fuzzNames are the event contract's names, and one whose folding is not ASCII's.
var fuzzNames = []string{
	"EventId", "PatientId", "FirstName", "LastName", "IsPregnant", "Sex", "UpdatedAt", "DeletedAt", "Straße",
}

// FuzzRead checks Read against encoding/json. On what encoding/json calls valid, Read returns
// the same values, and refuses exactly the repeated and case-variant names and the invalid UTF-8
// that a walk with encoding/json's tokens finds; on what it calls invalid, Read refuses too, and
// words a syntax error as encoding/json does, at the same offset.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		`{"EventId":"e1","PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":false,"Sex":"Female",` +
			`"UpdatedAt":"2026-01-02T05:00:00.5Z"}`,
		`{"Patient\u0049d":"7","x":{"PatientId":"x","a":[1,"]}",-0.5e+7,true,null]},"ce_id":null}`,
		`{"patientid":"1"}`, `{"PatientId":"1","PATIENTID":"2"}`, `{"ſex":"f"}`, `{"STRASSE":1,"straße":2}`,
		`{"a":1,"a":2}`, `{"a\ud800":1,"a\udbff":2}`, "{\"a\xff\":1,\"a\xfe\":2}", "{\"FirstName\":\"Jo\xffhn\"}",
		`{"FirstName":"\ud83d\ude00 \u00e9 \"q\" \\ \/ \b\f\n\r\t"}`, `{"FirstName":"\ud800\u0041"}`,
		``, ` `, `null`, `[1,2]`, `"s"`, `-`, `1.`, `1e`, `tru`, `{`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,`, `{"a" 1}`,
		`{"a":1 "b":2}`, `{1:2}`, `{"a":[1 2]}`, `{"a":"\x"}`, `{"a":"\u12g4"}`, "{\"a\":\"\x01\"}", `{} x`, `{}{}`,
		`{"a":01}`, `{"a":-x}`, strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		`{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"c":11}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, replace := range []bool{false, true} {
			r := &jsonobject.Reader{Names: fuzzNames, ReplaceInvalidUTF8: replace}
			values := make([][]byte, len(fuzzNames))
			unknown, err := r.Read(data, values)
			if !json.Valid(data) {
				checkRefused(t, data, err)
				continue
			}
			checkValid(t, r, data, values, unknown, err)
		}
	})
}

// checkRefused checks Read's error for data that encoding/json calls invalid.
func checkRefused(t *testing.T, data []byte, err error) {
	t.Helper()
	var syntax *jsonobject.SyntaxError
	var notObject *jsonobject.NotObjectError
	var dup *jsonobject.DuplicateError
	var variant *jsonobject.CaseError
	switch {
	case err == nil:
		t.Fatalf("Read(%q) accepted what encoding/json refuses", data)
	case errors.As(err, &syntax):
		var want *json.SyntaxError
		if !errors.As(json.Unmarshal(data, new(json.RawMessage)), &want) {
			t.Fatalf("Read(%q): got %v, but encoding/json finds no syntax error", data, err)
		}
		if syntax.Error() != want.Error() || int64(syntax.Offset) != want.Offset {
			t.Fatalf("Read(%q): got %q at %d, encoding/json says %q at %d",
				data, syntax, syntax.Offset, want, want.Offset)
		}
	case errors.Is(err, jsonobject.ErrEmpty):
		if len(bytes.TrimSpace(data)) != 0 {
			t.Fatalf("Read(%q): got %v for something", data, err)
		}
	case errors.Is(err, jsonobject.ErrTrailing), errors.As(err, &notObject):
		// The first value is whole; what follows it is not.
		dec := json.NewDecoder(bytes.NewReader(data))
		var first json.RawMessage
		if decErr := dec.Decode(&first); decErr != nil {
			t.Fatalf("Read(%q): got %v, but encoding/json cannot read the first value: %v", data, err, decErr)
		}
		if (first[0] == '{') != errors.Is(err, jsonobject.ErrTrailing) {
			t.Fatalf("Read(%q): got %v for a first value %q", data, err, first)
		}
	case errors.As(err, &dup), errors.As(err, &variant):
		// Found before the syntax error, reading in order.
	default:
		t.Fatalf("Read(%q): got %T %v for input encoding/json refuses", data, err, err)
	}
}

// member is a top-level member as encoding/json's tokens show it, with its raw bytes.
type member struct {
	name            string
	rawName, rawVal []byte
}

// checkValid checks Read's answer for data that encoding/json calls valid.
func checkValid(t *testing.T, r *jsonobject.Reader, data []byte, values [][]byte, unknown []jsonobject.Member,
	err error,
) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // a number too large for a float64 is still valid JSON
	tok, tokErr := dec.Token()
	if tokErr == io.EOF {
		if !errors.Is(err, jsonobject.ErrEmpty) {
			t.Fatalf("Read(%q): got %v, want ErrEmpty", data, err)
		}
		return
	}
	if tok != json.Delim('{') {
		var notObject *jsonobject.NotObjectError
		if !errors.As(err, &notObject) || notObject.Got != kindOfToken(tok) {
			t.Fatalf("Read(%q): got %v, want a NotObjectError for %v", data, err, tok)
		}
		return
	}
	var members []member
	for dec.More() {
		start := dec.InputOffset()
		tok, _ := dec.Token()
		name := tok.(string)
		rawName := bytes.TrimLeft(data[start:dec.InputOffset()], " \t\r\n,")
		for _, m := range members {
			if m.name == name {
				var dup *jsonobject.DuplicateError
				if !errors.As(err, &dup) || dup.Name != name {
					t.Fatalf("Read(%q): got %v, want %q refused as repeated", data, err, name)
				}
				return
			}
		}
		for _, n := range r.Names {
			if name != n && strings.EqualFold(name, n) {
				var variant *jsonobject.CaseError
				if !errors.As(err, &variant) || variant.Name != name || variant.Field != n {
					t.Fatalf("Read(%q): got %v, want %q refused as a case variant of %q", data, err, name, n)
				}
				return
			}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		members = append(members, member{name: name, rawName: rawName, rawVal: raw})
	}
	if !r.ReplaceInvalidUTF8 && !utf8.Valid(data) {
		var want []string
		for _, m := range members {
			if !utf8.Valid(m.rawName) || !utf8.Valid(m.rawVal) {
				want = append(want, m.name)
			}
		}
		var invalid *jsonobject.UTF8Error
		if !errors.As(err, &invalid) || !slices.Equal(invalid.Names, want) {
			t.Fatalf("Read(%q): got %v, want invalid UTF-8 in %q", data, err, want)
		}
		return
	}
	if err != nil {
		t.Fatalf("Read(%q): %v", data, err)
	}
	var wantUnknown []jsonobject.Member
	wantValues := make([][]byte, len(r.Names))
	for _, m := range members {
		if i := slices.Index(r.Names, m.name); i >= 0 {
			wantValues[i] = m.rawVal
		} else {
			wantUnknown = append(wantUnknown, jsonobject.Member{Name: m.name, Value: m.rawVal})
		}
	}
	for i, v := range values {
		if !bytes.Equal(v, wantValues[i]) || (v == nil) != (wantValues[i] == nil) {
			t.Fatalf("Read(%q): %s is %q, encoding/json read %q", data, r.Names[i], v, wantValues[i])
		}
		checkScalars(t, v)
	}
	if len(unknown) != len(wantUnknown) {
		t.Fatalf("Read(%q): got unknown members %q, want %q", data, unknown, wantUnknown)
	}
	for i, m := range unknown {
		if m.Name != wantUnknown[i].Name || !bytes.Equal(m.Value, wantUnknown[i].Value) {
			t.Fatalf("Read(%q): got unknown members %q, want %q", data, unknown, wantUnknown)
		}
		checkScalars(t, m.Value)
	}
}

// checkScalars checks OptionalString, OptionalBool and KindOf on a value against encoding/json.
func checkScalars(t *testing.T, v []byte) {
	t.Helper()
	if v == nil {
		return
	}
	var anything any
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&anything); err != nil {
		t.Fatalf("value %q: %v", v, err)
	}
	if got, want := jsonobject.KindOf(v), kindOfToken(anything); got != want {
		t.Fatalf("KindOf(%q) = %v, want %v", v, got, want)
	}
	var wantS *string
	wantSErr := json.Unmarshal(v, &wantS)
	s, err := jsonobject.OptionalString(v)
	if (err == nil) != (wantSErr == nil) || (err == nil && wantS != nil && s != *wantS) {
		t.Fatalf("OptionalString(%q) = %q, %v; encoding/json: %v, %v", v, s, err, wantS, wantSErr)
	}
	var wantB *bool
	wantBErr := json.Unmarshal(v, &wantB)
	b, err := jsonobject.OptionalBool(v)
	if (err == nil) != (wantBErr == nil) || (err == nil && wantB != nil && b != *wantB) {
		t.Fatalf("OptionalBool(%q) = %v, %v; encoding/json: %v, %v", v, b, err, wantB, wantBErr)
	}
}

func kindOfToken(tok any) jsonobject.Kind {
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '[' {
			return jsonobject.Array
		}
		return jsonobject.Object
	case map[string]any:
		return jsonobject.Object
	case []any:
		return jsonobject.Array
	case string:
		return jsonobject.String
	case float64, json.Number:
		return jsonobject.Number
	case bool:
		return jsonobject.Bool
	}
	return jsonobject.Null
}

// FuzzEqualFold checks the folding Read refuses case variants by against bytes.EqualFold.
func FuzzEqualFold(f *testing.F) {
	for _, s := range [][2]string{
		{"PatientId", "patientid"}, {"Sex", "ſex"}, {"k", "\u212a"}, {"Straße", "STRASSE"}, {"a\xff", "A\xfe"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		data := []byte(`{` + strconvQuote(b) + `:1}`)
		r := &jsonobject.Reader{Names: []string{a}, ReplaceInvalidUTF8: true}
		_, err := r.Read(data, make([][]byte, 1))
		if !json.Valid(data) || !utf8.ValidString(a) {
			return
		}
		var name string
		var probe map[string]json.RawMessage
		if json.Unmarshal(data, &probe) != nil {
			return
		}
		for k := range probe {
			name = k
		}
		var variant *jsonobject.CaseError
		want := name != a && bytes.EqualFold([]byte(name), []byte(a))
		if errors.As(err, &variant) != want {
			t.Fatalf("name %q, field %q: got %v, want a case error: %v", name, a, err, want)
		}
	})
}

// strconvQuote quotes s as a JSON string, invalid bytes kept as they are.
func strconvQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// FuzzAppendString checks that AppendString writes encoding/json's bytes.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{
		"", "John", "Zoë 李", `q " b \ `, "<a>&", "\x00\x1f\x7f\t\n", "bad \xff\xfe", "\xe2\x82", "\u2028\u2029",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonobject.AppendString([]byte("x"), s); !bytes.Equal(got[1:], want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got[1:], want)
		}
	})
}
