package profile

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends e in its contract form (MarshalJSON's bytes) to b. It uses no reflection:
// the producer encodes an event per request, and encoding/json would reflect over the struct,
// then compact the result of MarshalJSON a second time.
func (e Event) AppendJSON(b []byte) []byte {
	if e.Deleted {
		// The deletion form: see wireDeletion.
		b = append(b, `{"EventId":`...)
		b = appendString(b, e.EventID)
		b = append(b, `,"PatientId":`...)
		b = appendString(b, e.PatientID)
		b = append(b, `,"DeletedAt":"`...)
		b = e.UpdatedAt.UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, `"}`...)
	}
	b = append(b, `{"EventId":`...)
	b = appendString(b, e.EventID)
	b = append(b, `,"PatientId":`...)
	b = appendString(b, e.PatientID)
	b = append(b, `,"FirstName":`...)
	b = appendString(b, e.FirstName)
	b = append(b, `,"LastName":`...)
	b = appendString(b, e.LastName)
	b = append(b, `,"IsPregnant":`...)
	b = strconv.AppendBool(b, e.IsPregnant)
	b = append(b, `,"Sex":`...)
	b = appendString(b, e.Sex)
	// RFC 3339 has nothing to escape.
	b = append(b, `,"UpdatedAt":"`...)
	b = e.UpdatedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does: control characters, quotes and backslashes
// escaped, <, > and & escaped for HTML safety, invalid UTF-8 replaced by U+FFFD, and U+2028 and
// U+2029 escaped for JavaScript.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
