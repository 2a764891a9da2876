package jsonobject

import (
	"errors"
	"strconv"
	"strings"
)

// ErrEmpty is an input of nothing but whitespace; ErrTrailing, one with more than whitespace
// after the object. Callers word them for their own readers.
var (
	ErrEmpty    = errors.New("empty value, want a JSON object")
	ErrTrailing = errors.New("trailing data after the JSON object")
)

// SyntaxError is input that is not JSON, worded as encoding/json words it.
type SyntaxError struct {
	msg string
	// Offset is where the error was found: the number of bytes read, as in json.SyntaxError.
	Offset int
}

func (e *SyntaxError) Error() string { return e.msg }

func syntaxErrorAt(data []byte, i int, context string) error {
	if i >= len(data) {
		// encoding/json reads the end of its input as a space.
		return &SyntaxError{msg: "invalid character ' ' " + context, Offset: len(data)}
	}
	return &SyntaxError{msg: "invalid character " + quoteChar(data[i]) + " " + context, Offset: i + 1}
}

func unexpectedEnd(data []byte) error {
	return &SyntaxError{msg: "unexpected end of JSON input", Offset: len(data)}
}

// quoteChar is encoding/json's quoting of a byte in a syntax error.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// NotObjectError is a JSON value other than an object.
type NotObjectError struct {
	Got Kind
}

func (e *NotObjectError) Error() string { return "must be a JSON object, got " + e.Got.String() }

// DuplicateError is a name given more than once at the top level: which value wins depends on
// the parser.
type DuplicateError struct {
	// Name is the name as a parser reads it (escapes resolved).
	Name string
}

func (e *DuplicateError) Error() string { return "field " + Quote(e.Name) + " appears more than once" }

// CaseError is a name that equals one of the Reader's Names only under case folding, as
// encoding/json would match it ("patientid", "ſex").
type CaseError struct {
	Name string
	// Field is the Reader's name it folds to.
	Field string
}

func (e *CaseError) Error() string {
	return "field " + Quote(e.Name) + ": names are case-sensitive, the contract's is " + strconv.Quote(e.Field)
}

// UTF8Error is invalid UTF-8 in the names or the values of top-level members.
type UTF8Error struct {
	// Names are the members', in order, as a parser reads them (invalid bytes as U+FFFD).
	Names []string
}

func (e *UTF8Error) Error() string {
	quoted := make([]string, len(e.Names))
	for i, n := range e.Names {
		quoted[i] = Quote(n)
	}
	return "invalid UTF-8 in field " + strings.Join(quoted, ", ")
}

// TypeError is a value of another kind than the one wanted.
type TypeError struct {
	Want, Got Kind
}

func (e *TypeError) Error() string { return "must be a " + e.Want.String() + ", got " + e.Got.String() }
