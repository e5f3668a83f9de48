// Package segment turns any name into one safe path segment or subject token, and back.
package segment

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Escape keeps ASCII letters, digits and '_' and writes every other byte as ~XX (hex). The
// result never contains '/', '.', '%', '-', '*', '>', spaces or anything a URL parser, a
// filesystem or a NATS subject would interpret; names of letters, digits and '_' stay as
// they are. Escape is one-to-one.
func Escape(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "~%02x", c)
		}
	}
	return b.String()
}

// Unescape reverses Escape.
func Unescape(s string) (string, error) {
	if s == "" {
		return "", errors.New("segment: empty")
	}
	if !strings.Contains(s, "~") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '~' {
			b.WriteByte(s[i])
			continue
		}
		if i+3 > len(s) {
			return "", fmt.Errorf("segment %q: truncated escape", s)
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("segment %q: bad escape", s)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}
