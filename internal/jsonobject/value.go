package jsonobject

import (
	"bytes"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the type of a JSON value.
type Kind uint8

// The kinds of JSON values.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// String names k for an error message: "bool", "string".
func (k Kind) String() string {
	return [...]string{
		Null: "null", Bool: "bool", Number: "number", String: "string", Array: "array", Object: "object",
	}[k]
}

// Phrase names k for a sentence: "a boolean", "an array".
func (k Kind) Phrase() string {
	return [...]string{
		Null: "null", Bool: "a boolean", Number: "a number", String: "a string", Array: "an array", Object: "an object",
	}[k]
}

// KindOf is the kind of raw, a value as Read returns it, by its first byte.
func KindOf(raw []byte) Kind {
	switch raw[0] {
	case '"':
		return String
	case '{':
		return Object
	case '[':
		return Array
	case 't', 'f':
		return Bool
	case 'n':
		return Null
	}
	return Number
}

// OptionalString returns the string raw holds, a value as Read returns it; absent (nil) and
// null mean "". Another kind is a *TypeError.
func OptionalString(raw []byte) (string, error) {
	switch {
	case raw == nil || string(raw) == "null":
		return "", nil
	case raw[0] != '"':
		return "", &TypeError{Want: String, Got: KindOf(raw)}
	}
	return Unquote(raw), nil
}

// OptionalBool returns the boolean raw holds, a value as Read returns it; absent (nil) and null
// mean false. Another kind is a *TypeError.
func OptionalBool(raw []byte) (bool, error) {
	switch string(raw) {
	case "", "null", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, &TypeError{Want: Bool, Got: KindOf(raw)}
}

// Unquote returns the string a JSON string (quotes included, as Read returns it) holds, with
// escapes resolved and invalid UTF-8 (and escaped lone surrogates) as U+FFFD, as encoding/json
// reads it.
func Unquote(raw []byte) string {
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return string(s)
	}
	return string(appendUnquoted(make([]byte, 0, len(s)), s))
}

// AppendUnquoted appends the string a JSON string (quotes included) holds to dst, as Unquote
// returns it.
func AppendUnquoted(dst, raw []byte) []byte { return appendUnquoted(dst, raw[1:len(raw)-1]) }

// appendUnquoted appends the contents s of a valid JSON string, unquoted, to dst.
func appendUnquoted(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch s[i+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(s[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if pair := utf16.DecodeRune(r, hex4(s[i+2:])); pair != unicode.ReplacementChar {
							dst = utf8.AppendRune(dst, pair)
							i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			dst = utf8.AppendRune(dst, r)
			i += size
		}
	}
	return dst
}

// hex4 decodes the four hex digits that start b, which the scanner checked.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
