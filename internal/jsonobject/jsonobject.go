// Package jsonobject reads one JSON object strictly, for a contract whose member names are exact:
// the request body of POST /patientprofile and the patient.profile.updated event.
//
// encoding/json is lenient in ways such a contract cannot afford: it matches names ignoring case
// (so "patientid" fills PatientId), lets the last of two equal names win silently, and turns
// invalid UTF-8 into U+FFFD. A value that one parser reads one way and another parser another way
// is how a message passes a check here and does something else downstream. A Reader refuses all
// three, naming the member, in one pass over the bytes and without allocating when the object
// holds only known names. The package also reads the values it returns (OptionalString,
// OptionalBool, Unquote, KindOf), shortens the names it echoes (Shorten, Quote), and quotes
// strings as encoding/json does (AppendString) for the encoders written by hand on the same paths.
package jsonobject

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// A Reader reads the JSON objects of one contract.
type Reader struct {
	// Names are the contract's member names, matched exactly. Read puts the value of Names[i]
	// in values[i].
	Names []string
	// ReplaceInvalidUTF8 reads invalid UTF-8 in a name or a string as encoding/json does, as
	// U+FFFD, where by default it is refused. Events from other producers have always been read
	// that way.
	ReplaceInvalidUTF8 bool
}

// Member is a member of an object whose name is not one of the Reader's Names.
type Member struct {
	// Name is the name as a parser reads it: escapes resolved, invalid UTF-8 as U+FFFD.
	Name  string
	Value []byte
}

// maxDepth is encoding/json's bound on nesting, so that both refuse the same values.
const maxDepth = 10000

// unknownLinear is how many unknown names are checked for repeats one by one; past it they go
// in a map, so that an object of many names costs linear time, not quadratic.
const unknownLinear = 8

// Read reads data, which must be one JSON object with nothing but whitespace around it. It
// puts the raw value of each of r.Names present in values, which must be as long (the others
// are nil), and returns the other members in order. A value is as it is in data, without the
// whitespace around it, and valid JSON.
//
// It stops at the first problem in the order of the bytes: a syntax error (*SyntaxError, with
// encoding/json's message), a name given twice at the top level (*DuplicateError), or a name
// equal to one of r.Names only under case folding (*CaseError). Then, if the object is whole, it
// refuses ErrTrailing after it and (unless r.ReplaceInvalidUTF8) invalid UTF-8 in any top-level
// member (*UTF8Error, naming each). An empty input is ErrEmpty, and a JSON value other than an
// object *NotObjectError. Nested objects are not checked for names.
func (r *Reader) Read(data []byte, values [][]byte) ([]Member, error) {
	if len(values) != len(r.Names) {
		panic("jsonobject: Read needs one value per name")
	}
	clear(values)
	i := skipSpace(data, 0)
	if i == len(data) {
		return nil, ErrEmpty
	}
	if data[i] != '{' {
		end, _, err := scanValue(data, i, 0)
		if err != nil {
			return nil, err
		}
		return nil, &NotObjectError{Got: KindOf(data[i:end])}
	}
	var (
		unknown     []Member
		unknownSet  map[string]struct{}
		invalidUTF8 []string
		nameBuf     [64]byte
	)
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			nameEnd, nameFlags, err := scanKey(data, i)
			if err != nil {
				return nil, err
			}
			name := data[i+1 : nameEnd-1]
			if nameFlags != 0 {
				// "Patient\u0049d" is PatientId to every parser, and so are two names that
				// differ only in bytes a parser replaces.
				name = appendUnquoted(nameBuf[:0], name)
			}
			field, err := r.checkName(name, values, unknown, unknownSet)
			if err != nil {
				return nil, err
			}
			if i, err = skipColon(data, nameEnd); err != nil {
				return nil, err
			}
			valueEnd, valueFlags, err := scanValue(data, i, 1)
			if err != nil {
				return nil, err
			}
			if field >= 0 {
				values[field] = data[i:valueEnd]
			} else {
				unknown = append(unknown, Member{Name: string(name), Value: data[i:valueEnd]})
				if len(unknown) > unknownLinear {
					if unknownSet == nil {
						unknownSet = make(map[string]struct{}, 2*len(unknown))
						for _, m := range unknown[:len(unknown)-1] {
							unknownSet[m.Name] = struct{}{}
						}
					}
					unknownSet[unknown[len(unknown)-1].Name] = struct{}{}
				}
			}
			if (nameFlags|valueFlags)&invalidUTF8Flag != 0 && !r.ReplaceInvalidUTF8 {
				invalidUTF8 = append(invalidUTF8, string(name))
			}
			var closed bool
			if i, closed, err = skipSeparator(data, valueEnd, '}', "after object key:value pair"); err != nil {
				return nil, err
			}
			if closed {
				break
			}
		}
	}
	if skipSpace(data, i) != len(data) {
		return nil, ErrTrailing
	}
	if invalidUTF8 != nil {
		return nil, &UTF8Error{Names: invalidUTF8}
	}
	return unknown, nil
}

// checkName returns the index of name in r.Names, or -1 for a name outside them, or the
// error that refuses it.
func (r *Reader) checkName(name []byte, values [][]byte, unknown []Member, unknownSet map[string]struct{},
) (int, error) {
	for f, n := range r.Names {
		if string(name) == n {
			if values[f] != nil {
				return 0, &DuplicateError{Name: n}
			}
			return f, nil
		}
	}
	for _, n := range r.Names {
		if equalFold(name, n) {
			return 0, &CaseError{Name: string(name), Field: n}
		}
	}
	repeated := false
	if unknownSet != nil {
		_, repeated = unknownSet[string(name)]
	} else {
		for _, m := range unknown {
			if m.Name == string(name) {
				repeated = true
				break
			}
		}
	}
	if repeated {
		return 0, &DuplicateError{Name: string(name)}
	}
	return -1, nil
}

// equalFold is bytes.EqualFold(b, []byte(s)) without the conversion: Unicode simple case
// folding, the rule encoding/json matches names by.
func equalFold(b []byte, s string) bool {
	for len(b) > 0 && s != "" {
		var r, q rune
		if b[0] < utf8.RuneSelf {
			r, b = rune(b[0]), b[1:]
		} else {
			c, n := utf8.DecodeRune(b)
			r, b = c, b[n:]
		}
		if s[0] < utf8.RuneSelf {
			q, s = rune(s[0]), s[1:]
		} else {
			c, n := utf8.DecodeRuneInString(s)
			q, s = c, s[n:]
		}
		if r == q {
			continue
		}
		if q < r {
			r, q = q, r
		}
		if q < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' && q == r+'a'-'A' {
				continue
			}
			return false
		}
		f := unicode.SimpleFold(r)
		for f != r && f < q {
			f = unicode.SimpleFold(f)
		}
		if f != q {
			return false
		}
	}
	return len(b) == len(s)
}

// maxShown is how much of a name an error message shows: names come from the sender, and a
// huge one must not fill an answer, a log line or a dead-letter header.
const maxShown = 64

// Shorten returns name as an error message shows it: whole if it has at most 64 bytes, else
// its first 64 bytes, cut back to a whole character, and "...".
func Shorten(name string) string {
	if len(name) <= maxShown {
		return name
	}
	return name[:cut(name)] + "..."
}

// Quote returns name quoted as strconv.Quote does, shortened as Shorten does, with the "..."
// after the closing quote.
func Quote(name string) string {
	if len(name) <= maxShown {
		return strconv.Quote(name)
	}
	return strconv.Quote(name[:cut(name)]) + "..."
}

// cut is where Shorten cuts s: at 64 bytes, or up to 3 bytes before if that splits a character.
func cut(s string) int {
	n := maxShown
	for k := n; k > n-utf8.UTFMax && k > 0; k-- {
		if utf8.RuneStart(s[k]) {
			return k
		}
	}
	return n
}
