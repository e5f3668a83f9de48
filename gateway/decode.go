package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// decodeJSON reads one JSON value from the body into v, refusing unknown fields and
// trailing data, with errors that name the problem.
func decodeJSON(c echo.Context, v any) error {
	body, err := readBody(c.Request())
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errBadRequest("request body is empty; send a JSON object")
	}
	if err := checkJSONText(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return errBadRequest("request body has data after the JSON object")
	}
	return nil
}

// readBody reads the whole request body and puts it back for the next reader.
func readBody(req *http.Request) ([]byte, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return nil, maxBytes
		}
		if errors.Is(err, errSlowBody) {
			return nil, err
		}
		return nil, errBadRequest("cannot read request body")
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return errBadRequest("malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return errBadRequest("field %s: expected %s, got JSON %s", field, typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errBadRequest("malformed JSON: unexpected end of input")
	}
	return errBadRequest("malformed JSON: %s", err.Error())
}

func intParam(c echo.Context, name string, def, min, max int) (int, error) {
	s := c.QueryParam(name)
	if s == "" {
		return def, nil
	}
	var v int
	if _, err := fmt.Sscanf(s, "%d", &v); err != nil || v < min || v > max {
		return 0, errBadRequest("%s must be an integer from %d to %d", name, min, max)
	}
	return v, nil
}

// timeParam parses an RFC 3339 query parameter; absent, the zero time.
func timeParam(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errBadRequest("%s must be an RFC 3339 time", name)
	}
	return t, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}
