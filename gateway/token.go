package gateway

import "encoding/base64"

func encodeToken(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func decodeToken(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
