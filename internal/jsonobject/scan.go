package jsonobject

import "unicode/utf8"

// The scanner below accepts exactly what encoding/json accepts, and words its syntax errors as
// encoding/json's scanner does (with the same offsets), so that a message that was refused as
// malformed before is refused in the same words. Each function takes the index of the first byte
// of what it scans and returns the index just past it.

// What a string holds besides plain characters.
const (
	escapeFlag uint8 = 1 << iota
	invalidUTF8Flag
)

// plain marks the bytes a string holds as they are: printable ASCII but the quote and the
// backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanValue scans the value at data[i], which is inside depth containers.
func scanValue(data []byte, i, depth int) (int, uint8, error) {
	if i >= len(data) {
		return 0, 0, unexpectedEnd(data)
	}
	switch c := data[i]; {
	case c == '"':
		return scanString(data, i)
	case c == '{':
		return scanObject(data, i, depth+1)
	case c == '[':
		return scanArray(data, i, depth+1)
	case c == '-' || '0' <= c && c <= '9':
		end, err := scanNumber(data, i)
		return end, 0, err
	case c == 't':
		end, err := scanLiteral(data, i, "true")
		return end, 0, err
	case c == 'f':
		end, err := scanLiteral(data, i, "false")
		return end, 0, err
	case c == 'n':
		end, err := scanLiteral(data, i, "null")
		return end, 0, err
	}
	return 0, 0, syntaxErrorAt(data, i, "looking for beginning of value")
}

// scanString scans the string at data[i] == '"' and says whether it holds escapes or invalid
// UTF-8 (which encoding/json accepts, and reads as U+FFFD).
func scanString(data []byte, i int) (int, uint8, error) {
	var flags uint8
	i++
	for {
		for i < len(data) && plain[data[i]] {
			i++
		}
		if i >= len(data) {
			return 0, 0, unexpectedEnd(data)
		}
		switch c := data[i]; {
		case c == '"':
			return i + 1, flags, nil
		case c == '\\':
			flags |= escapeFlag
			i++
			if i >= len(data) {
				return 0, 0, syntaxErrorAt(data, i, "in string escape code")
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				i++
				for range 4 {
					if i >= len(data) || !isHex(data[i]) {
						return 0, 0, syntaxErrorAt(data, i, "in \\u hexadecimal character escape")
					}
					i++
				}
			default:
				return 0, 0, syntaxErrorAt(data, i, "in string escape code")
			}
		case c < 0x20:
			return 0, 0, syntaxErrorAt(data, i, "in string literal")
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				flags |= invalidUTF8Flag
			}
			i += size
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func skipDigits(data []byte, i int) int {
	for i < len(data) && isDigit(data[i]) {
		i++
	}
	return i
}

// scanNumber scans the number at data[i], which is '-' or a digit.
func scanNumber(data []byte, i int) (int, error) {
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		i = skipDigits(data, i+1)
	default:
		return 0, syntaxErrorAt(data, i, "in numeric literal")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return 0, syntaxErrorAt(data, i, "after decimal point in numeric literal")
		}
		i = skipDigits(data, i+1)
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return 0, syntaxErrorAt(data, i, "in exponent of numeric literal")
		}
		i = skipDigits(data, i+1)
	}
	return i, nil
}

// scanLiteral scans true, false or null at data[i], whose first byte matched.
func scanLiteral(data []byte, i int, lit string) (int, error) {
	for k := 1; k < len(lit); k++ {
		if i+k >= len(data) || data[i+k] != lit[k] {
			return 0, syntaxErrorAt(data, i+k, "in literal "+lit+" (expecting "+quoteChar(lit[k])+")")
		}
	}
	return i + len(lit), nil
}

// scanObject scans the object at data[i] == '{', the depth-th container.
func scanObject(data []byte, i, depth int) (int, uint8, error) {
	if depth > maxDepth {
		return 0, 0, syntaxErrorAt(data, i, "exceeded max depth")
	}
	var flags uint8
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, 0, nil
	}
	for {
		end, f, err := scanKey(data, i)
		if err != nil {
			return 0, 0, err
		}
		flags |= f
		if i, err = skipColon(data, end); err != nil {
			return 0, 0, err
		}
		end, f, err = scanValue(data, i, depth)
		if err != nil {
			return 0, 0, err
		}
		flags |= f
		var closed bool
		if i, closed, err = skipSeparator(data, end, '}', "after object key:value pair"); closed || err != nil {
			return i, flags, err
		}
	}
}

// scanKey scans the member name at data[i], which must be a string.
func scanKey(data []byte, i int) (int, uint8, error) {
	if i >= len(data) {
		return 0, 0, unexpectedEnd(data)
	}
	if data[i] != '"' {
		return 0, 0, syntaxErrorAt(data, i, "looking for beginning of object key string")
	}
	return scanString(data, i)
}

// skipColon skips the colon after a member name that ends at end, and the space around it.
func skipColon(data []byte, end int) (int, error) {
	i := skipSpace(data, end)
	if i >= len(data) {
		return 0, unexpectedEnd(data)
	}
	if data[i] != ':' {
		return 0, syntaxErrorAt(data, i, "after object key")
	}
	return skipSpace(data, i+1), nil
}

// skipSeparator reads what follows a member or an element that ends at end: a comma, after
// which the next one starts at the index returned, or the closing bracket, after which the
// container ends (closed).
func skipSeparator(data []byte, end int, closing byte, context string) (next int, closed bool, err error) {
	i := skipSpace(data, end)
	if i >= len(data) {
		return 0, false, unexpectedEnd(data)
	}
	switch data[i] {
	case ',':
		return skipSpace(data, i+1), false, nil
	case closing:
		return i + 1, true, nil
	}
	return 0, false, syntaxErrorAt(data, i, context)
}

// scanArray scans the array at data[i] == '[', the depth-th container.
func scanArray(data []byte, i, depth int) (int, uint8, error) {
	if depth > maxDepth {
		return 0, 0, syntaxErrorAt(data, i, "exceeded max depth")
	}
	var flags uint8
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, 0, nil
	}
	for {
		end, f, err := scanValue(data, i, depth)
		if err != nil {
			return 0, 0, err
		}
		flags |= f
		var closed bool
		if i, closed, err = skipSeparator(data, end, ']', "after array element"); closed || err != nil {
			return i, flags, err
		}
	}
}
