// Package problem reports invalid input: every problem found, each named by the JSON path of
// the piece of input it is about, so a client can fix them all at once.
package problem

import (
	"fmt"
	"strings"
)

// Problem names one invalid piece of input. Field is a JSON-ish path such as
// "schema.fields[2].type" or "quality[0].pattern".
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// List collects problems. As an error it names every one of them.
type List struct {
	Problems []Problem
}

// Add records a problem.
func (l *List) Add(field, format string, args ...any) {
	l.Problems = append(l.Problems, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns l as an error, or nil when it holds no problem.
func (l *List) Err() error {
	if len(l.Problems) == 0 {
		return nil
	}
	return l
}

// Error joins every problem into one line.
func (l *List) Error() string {
	parts := make([]string, len(l.Problems))
	for i, p := range l.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}
