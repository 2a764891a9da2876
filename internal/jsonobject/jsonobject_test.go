package jsonobject_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/jsonobject"
)

var testNames = []string{"PatientId", "FirstName", "Sex"}

func TestRead(t *testing.T) {
	const nested = `{"PatientId":1,"patientid":2,"x":[{"x":1},{"x":1}]}`
	tests := []struct {
		name        string
		data        string
		replace     bool
		wantValues  []string // by testNames; "" is absent
		wantUnknown []jsonobject.Member
		wantErr     error // compared with errors.Is, or by type and fields for the typed ones
		// wantSyntax is a *SyntaxError's message, at wantOffset.
		wantSyntax string
		wantOffset int
	}{
		{
			name:       "known names, whitespace around everything",
			data:       " \t\n{ \"PatientId\" : \"1\" ,\r\n\"Sex\":null , \"FirstName\":\"J\\u00f6\" } \n",
			wantValues: []string{`"1"`, `"J\u00f6"`, `null`},
		},
		{name: "empty object", data: `{}`, wantValues: []string{"", "", ""}},
		{
			name:       "unknown names come back in order, nested names are not checked",
			data:       `{"b":` + nested + `,"PatientId":"1","a":[1,"]}"],"b2":-1.5e+3}`,
			wantValues: []string{`"1"`, "", ""},
			wantUnknown: []jsonobject.Member{
				{Name: "b", Value: []byte(nested)},
				{Name: "a", Value: []byte(`[1,"]}"]`)},
				{Name: "b2", Value: []byte(`-1.5e+3`)},
			},
		},
		{
			name:       "an escaped name is the name it spells",
			data:       `{"Patient\u0049d":"7","\u0053ex":"f"}`,
			wantValues: []string{`"7"`, "", `"f"`},
		},
		{
			name:        "invalid UTF-8 replaced when asked",
			data:        "{\"FirstName\":\"Jo\xffhn\",\"x\xfe\":1}",
			replace:     true,
			wantValues:  []string{"", "\"Jo\xffhn\"", ""},
			wantUnknown: []jsonobject.Member{{Name: "x\ufffd", Value: []byte("1")}},
		},
		{name: "nothing", data: "", wantErr: jsonobject.ErrEmpty},
		{name: "only whitespace", data: " \n\t", wantErr: jsonobject.ErrEmpty},
		{name: "null", data: `null`, wantErr: &jsonobject.NotObjectError{Got: jsonobject.Null}},
		{name: "an array", data: ` [{"PatientId":"1"}] `, wantErr: &jsonobject.NotObjectError{Got: jsonobject.Array}},
		{name: "a string", data: `"{}"`, wantErr: &jsonobject.NotObjectError{Got: jsonobject.String}},
		{name: "two objects", data: `{"PatientId":"1"}{"PatientId":"2"}`, wantErr: jsonobject.ErrTrailing},
		{name: "garbage after", data: `{} x`, wantErr: jsonobject.ErrTrailing},
		{name: "truncated", data: `{"PatientId":"1",`, wantSyntax: "unexpected end of JSON input", wantOffset: 17},
		{
			name:       "not JSON",
			data:       `hello`,
			wantSyntax: "invalid character 'h' looking for beginning of value",
			wantOffset: 1,
		},
		{
			name:       "a bad literal",
			data:       `{"Sex":nul}`,
			wantSyntax: "invalid character '}' in literal null (expecting 'l')",
			wantOffset: 11,
		},
		{
			name:       "a number cut short at the end",
			data:       `[-`,
			wantSyntax: "invalid character ' ' in numeric literal",
			wantOffset: 2,
		},
		{
			name:       "a name that is not a string",
			data:       `{PatientId:1}`,
			wantSyntax: "invalid character 'P' looking for beginning of object key string",
			wantOffset: 2,
		},
		{
			name:       "a control character in a string",
			data:       "{\"Sex\":\"a\tb\"}",
			wantSyntax: `invalid character '\t' in string literal`,
			wantOffset: 10,
		},
		{
			name:       "a bad escape",
			data:       `{"Sex":"\q"}`,
			wantSyntax: "invalid character 'q' in string escape code",
			wantOffset: 10,
		},
		{
			name:       "too deep",
			data:       `{"a":` + strings.Repeat("[", 10000),
			wantSyntax: "invalid character '[' exceeded max depth",
			wantOffset: 10005,
		},
		{
			name:    "a known name twice",
			data:    `{"PatientId":"a","Sex":"f","PatientId":"b"}`,
			wantErr: &jsonobject.DuplicateError{Name: "PatientId"},
		},
		{
			name:    "twice, once escaped",
			data:    `{"Sex":"f","S\u0065x":"m"}`,
			wantErr: &jsonobject.DuplicateError{Name: "Sex"},
		},
		{
			name:    "twice, with null first",
			data:    `{"Sex":null,"Sex":"m"}`,
			wantErr: &jsonobject.DuplicateError{Name: "Sex"},
		},
		{
			name:    "an unknown name twice",
			data:    `{"x":1,"PatientId":"1","x":2}`,
			wantErr: &jsonobject.DuplicateError{Name: "x"},
		},
		{
			name:    "an unknown name twice among many",
			data:    `{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1,"k":1,"e":2}`,
			wantErr: &jsonobject.DuplicateError{Name: "e"},
		},
		{
			name:    "two names that differ only in invalid bytes",
			data:    "{\"x\xff\":1,\"x\xfe\":2}",
			replace: true, wantErr: &jsonobject.DuplicateError{Name: "x\ufffd"},
		},
		{
			name:    "a case variant",
			data:    `{"patientid":"1"}`,
			wantErr: &jsonobject.CaseError{Name: "patientid", Field: "PatientId"},
		},
		{
			name:    "a case variant beside the name",
			data:    `{"PatientId":"1","PATIENTID":"2"}`,
			wantErr: &jsonobject.CaseError{Name: "PATIENTID", Field: "PatientId"},
		},
		{
			name:    "a case variant by Unicode folding",
			data:    `{"ſex":"f"}`,
			wantErr: &jsonobject.CaseError{Name: "ſex", Field: "Sex"},
		},
		{
			name:    "an escaped case variant",
			data:    `{"\u0070atientId":"1"}`,
			wantErr: &jsonobject.CaseError{Name: "patientId", Field: "PatientId"},
		},
		{
			name:    "the first problem in order wins",
			data:    `{"sex":1,"Sex":1,"Sex":2,`,
			wantErr: &jsonobject.CaseError{Name: "sex", Field: "Sex"},
		},
		{
			name:    "a syntax error before a repeat",
			data:    `{"Sex":1,"Sex" 2}`,
			wantErr: &jsonobject.DuplicateError{Name: "Sex"},
		},
		{
			name: "invalid UTF-8 named by member, in order",
			data: "{\"Sex\":\"\xed\xa0\x80\",\"PatientId\":\"1\xc3\",\"FirstName\":\"ok\"," +
				"\"x\xff\":1,\"y\":[\"\xff\"]}",
			wantErr: &jsonobject.UTF8Error{Names: []string{"Sex", "PatientId", "x\ufffd", "y"}},
		},
		{
			name:    "a repeat before invalid UTF-8",
			data:    "{\"Sex\":\"\xff\",\"Sex\":\"m\"}",
			wantErr: &jsonobject.DuplicateError{Name: "Sex"},
		},
		{name: "trailing data before invalid UTF-8", data: "{\"Sex\":\"\xff\"} x", wantErr: jsonobject.ErrTrailing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &jsonobject.Reader{Names: testNames, ReplaceInvalidUTF8: tt.replace}
			values := make([][]byte, len(testNames))
			unknown, err := r.Read([]byte(tt.data), values)
			if tt.wantSyntax != "" {
				var got *jsonobject.SyntaxError
				require.ErrorAs(t, err, &got)
				assert.Equal(t, tt.wantSyntax, got.Error())
				assert.Equal(t, tt.wantOffset, got.Offset)
				return
			}
			if tt.wantErr != nil {
				if errors.Is(tt.wantErr, jsonobject.ErrEmpty) || errors.Is(tt.wantErr, jsonobject.ErrTrailing) {
					assert.ErrorIs(t, err, tt.wantErr)
				} else {
					assert.Equal(t, tt.wantErr, err) // a typed error, field by field
				}
				return
			}
			require.NoError(t, err)
			for i, want := range tt.wantValues {
				if want == "" {
					assert.Nil(t, values[i], testNames[i])
					continue
				}
				assert.Equal(t, want, string(values[i]), testNames[i])
			}
			assert.Equal(t, tt.wantUnknown, unknown)
		})
	}
}

func TestErrorMessages(t *testing.T) {
	long := strings.Repeat("n", 63) + "é" + "tail"
	tests := []struct {
		err  error
		want string
	}{
		{&jsonobject.DuplicateError{Name: "PatientId"}, `field "PatientId" appears more than once`},
		{&jsonobject.DuplicateError{Name: long}, `field "` + strings.Repeat("n", 63) + `"... appears more than once`},
		{
			&jsonobject.CaseError{Name: "patientid", Field: "PatientId"},
			`field "patientid": names are case-sensitive, the contract's is "PatientId"`,
		},
		{&jsonobject.UTF8Error{Names: []string{"Sex", "x\ufffd"}}, "invalid UTF-8 in field \"Sex\", \"x\ufffd\""},
		{&jsonobject.NotObjectError{Got: jsonobject.Null}, "must be a JSON object, got null"},
		{&jsonobject.TypeError{Want: jsonobject.Bool, Got: jsonobject.String}, "must be a bool, got string"},
		{&jsonobject.TypeError{Want: jsonobject.String, Got: jsonobject.Object}, "must be a string, got object"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.Error())
		})
	}
}

func TestShortenAndQuote(t *testing.T) {
	tests := []struct {
		name, in, wantShort, wantQuoted string
	}{
		{"short", "PatientId", "PatientId", `"PatientId"`},
		{"exactly 64 bytes", strings.Repeat("x", 64), strings.Repeat("x", 64), `"` + strings.Repeat("x", 64) + `"`},
		{"65 bytes", strings.Repeat("x", 65), strings.Repeat("x", 64) + "...", `"` + strings.Repeat("x", 64) + `"...`},
		{
			"a character across the cut is left out whole",
			strings.Repeat("x", 62) + "€" + "y",
			strings.Repeat("x", 62) + "...",
			`"` + strings.Repeat("x", 62) + `"...`,
		},
		{"invalid bytes are quoted, not dropped", "a\xffb", "a\xffb", `"a\xffb"`},
		{"control characters are escaped", "a\nb", "a\nb", `"a\nb"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantShort, jsonobject.Shorten(tt.in))
			assert.Equal(t, tt.wantQuoted, jsonobject.Quote(tt.in))
		})
	}
}

func TestScalars(t *testing.T) {
	tests := []struct {
		raw       string
		kind      jsonobject.Kind
		phrase    string
		str       string
		strErr    string
		boolean   bool
		boolErr   string
		absentish bool
	}{
		{
			raw:     `"a\"b\\c\/\u00e9\ud83d\ude00"`,
			kind:    jsonobject.String,
			phrase:  "a string",
			str:     "a\"b\\c/é😀",
			boolErr: "must be a bool, got string",
		},
		{
			raw:     `"\ud800x\udc00"`,
			kind:    jsonobject.String,
			phrase:  "a string",
			str:     "\ufffdx\ufffd",
			boolErr: "must be a bool, got string",
		},
		{
			raw:     "\"\xffa\"",
			kind:    jsonobject.String,
			phrase:  "a string",
			str:     "\ufffda",
			boolErr: "must be a bool, got string",
		},
		{
			raw:     `"plain"`,
			kind:    jsonobject.String,
			phrase:  "a string",
			str:     "plain",
			boolErr: "must be a bool, got string",
		},
		{raw: `true`, kind: jsonobject.Bool, phrase: "a boolean", strErr: "must be a string, got bool", boolean: true},
		{raw: `false`, kind: jsonobject.Bool, phrase: "a boolean", strErr: "must be a string, got bool"},
		{raw: `null`, kind: jsonobject.Null, phrase: "null", absentish: true},
		{
			raw:     `-1.5e3`,
			kind:    jsonobject.Number,
			phrase:  "a number",
			strErr:  "must be a string, got number",
			boolErr: "must be a bool, got number",
		},
		{
			raw:     `[]`,
			kind:    jsonobject.Array,
			phrase:  "an array",
			strErr:  "must be a string, got array",
			boolErr: "must be a bool, got array",
		},
		{
			raw:     `{}`,
			kind:    jsonobject.Object,
			phrase:  "an object",
			strErr:  "must be a string, got object",
			boolErr: "must be a bool, got object",
		},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			raw := []byte(tt.raw)
			assert.Equal(t, tt.kind, jsonobject.KindOf(raw))
			assert.Equal(t, tt.phrase, tt.kind.Phrase())
			s, err := jsonobject.OptionalString(raw)
			if tt.strErr != "" {
				assert.EqualError(t, err, tt.strErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.str, s)
				if tt.kind == jsonobject.String {
					assert.Equal(t, tt.str, jsonobject.Unquote(raw))
					assert.Equal(t, "<"+tt.str, string(jsonobject.AppendUnquoted([]byte("<"), raw)))
				}
			}
			b, err := jsonobject.OptionalBool(raw)
			if tt.boolErr != "" {
				var typeErr *jsonobject.TypeError
				require.ErrorAs(t, err, &typeErr)
				assert.EqualError(t, err, tt.boolErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.boolean, b)
			}
		})
	}
	t.Run("absent", func(t *testing.T) {
		s, err := jsonobject.OptionalString(nil)
		require.NoError(t, err)
		assert.Empty(t, s)
		b, err := jsonobject.OptionalBool(nil)
		require.NoError(t, err)
		assert.False(t, b)
	})
}

// A request of known names is read without allocating: Read runs for every request and every
// event.
func TestReadDoesNotAllocate(t *testing.T) {
	r := &jsonobject.Reader{Names: []string{"PatientId", "FirstName", "LastName", "IsPregnant", "Sex"}}
	data := []byte(`{"PatientId":"1","FirstName":"J\u00f6hn","LastName":"Doe","IsPregnant":"False","Sex":"Female"}`)
	var values [5][]byte
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.Read(data, values[:]); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func BenchmarkRead(b *testing.B) {
	r := &jsonobject.Reader{Names: fuzzNames[:8]}
	data := []byte(`{"EventId":"01a218b6-28d2-7d95-817e-6bb4b42f8fb7","PatientId":"1","FirstName":"John",` +
		`"LastName":"Doe","IsPregnant":false,"Sex":"Female","UpdatedAt":"2026-01-02T15:00:00.5+10:00"}`)
	var values [8][]byte
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := r.Read(data, values[:]); err != nil {
			b.Fatal(err)
		}
	}
}
